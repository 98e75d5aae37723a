"""Shared fixtures: tiny atomic datasets and a scratch working directory for RecBole's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: The repository's ../shared/datasets (real data for the slower checks), if present.
SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

#: Options that make a run take a second or two on the tiny dataset.
FAST_OPTIONS = {
    "epochs": 1,
    "train_batch_size": 64,
    "eval_batch_size": 256,
    "MAX_ITEM_LIST_LENGTH": 10,
    "show_progress": False,
    "state": "WARNING",
}


def write_tiny_dataset(
    folder: Path, name: str = "tiny", n_users: int = 30, n_items: int = 25, seed: int = 0
) -> Path:
    """Write ``folder/name/name.inter``: each user 8-15 distinct items with increasing times."""
    rng = np.random.default_rng(seed)
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for user in range(1, n_users + 1):
        length = int(rng.integers(8, 16))
        items = rng.choice(np.arange(1, n_items + 1), size=length, replace=False)
        for step, item in enumerate(items):
            lines.append(f"u{user}\ti{item}\t{1 + step % 5}\t{1000 * user + step}")
    target = folder / name
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{name}.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data_path holding the ``tiny`` dataset (30 users, 25 items)."""
    return write_tiny_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a scratch folder, so RecBole's log/, log_tensorboard/ and saved/ land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


TOY_DIR = Path(__file__).resolve().parent / "toy"


@pytest.fixture
def toy_model():
    """Register ``ToySeq`` (a user's own model) for one test, with its yaml, dataset and trainer."""
    from recbole_hug import registry
    from tests.toy.toy_model import ToySeq, ToySeqDataset, ToySeqTrainer

    spec = registry.register(
        "ToySeq", ToySeq, ToySeqDataset, TOY_DIR / "ToySeq.yaml", ToySeqTrainer, overwrite=True
    )
    yield spec
    registry.unregister("ToySeq")
