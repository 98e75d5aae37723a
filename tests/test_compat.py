"""Each modern-stack fix of recbole_hug.compat, with a check that fails without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from packaging.version import Version
from recbole.config import Config as RecBoleConfig

from recbole_hug import compat
from recbole_hug.config import Config
from tests.conftest import FAST_OPTIONS


@pytest.mark.skipif(Version(np.__version__) < Version("2"), reason="numpy 1 has np.float_")
def test_recbole_config_alone_fails_on_numpy_2() -> None:
    with pytest.raises(AttributeError, match="float_"):
        RecBoleConfig("SASRec", "ml-100k", config_dict={})


def test_legacy_numpy_names_let_config_and_metrics_work(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in compat.LEGACY_NUMPY_NAMES:
        if name not in ("bool", "long"):  # numpy 2 keeps these two
            monkeypatch.delattr(np, name, raising=False)
    Config("SASRec", "ml-100k")
    assert np.float is np.float64 and np.str is np.str_ and np.int is np.int_
    from recbole.evaluator.metrics import NDCG

    # RecBole's metrics build arrays with dtype=np.float.
    scores = NDCG.__new__(NDCG)
    scores.topk = [2]
    result = scores.metric_info(np.array([[True, False]]), np.array([1]))
    assert result.dtype == np.float64 and result[0, 0] == pytest.approx(1.0)


def test_legacy_numpy_names_keep_existing_names() -> None:
    before = np.bool, getattr(np, "long", None)
    compat.restore_legacy_numpy_names()
    assert (np.bool, getattr(np, "long", None)) == before


@pytest.mark.skipif(
    Version(torch.__version__.split("+")[0]) < Version("2.6"),
    reason="torch < 2.6 loads full pickles by default",
)
def test_recbole_checkpoints_reload_only_with_trusted_checkpoints(
    tiny_data: Path, workdir: Path
) -> None:
    config = Config("SASRec", "tiny", config_dict={**FAST_OPTIONS, "data_path": str(tiny_data)})
    checkpoint = workdir / "recbole.pth"
    torch.save({"config": config}, checkpoint, pickle_protocol=4)  # as RecBole's Trainer saves
    with pytest.raises(Exception, match="weights_only|Weights only"):
        torch.load(checkpoint)  # what RecBole's Trainer.evaluate does
    with compat.trusted_checkpoints():
        state = torch.load(checkpoint)
    assert isinstance(state["config"], Config)
    assert compat.TORCH_TRUST_ENV not in __import__("os").environ


def _anomaly_after(import_line: str) -> bool:
    code = f"import torch\n{import_line}\nprint(torch.is_anomaly_enabled())"
    run = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return run.stdout.strip() == "True"


def test_recbole_model_lookup_keeps_anomaly_detection_off() -> None:
    assert _anomaly_after("import recbole.model.sequential_recommender.sasrec")  # RecBole's bug
    assert not _anomaly_after("from recbole_hug.utils import get_model; get_model('SASRec')")


def test_runs_import_no_ray_and_leave_anomaly_detection_off(
    tiny_data: Path, tmp_path: Path
) -> None:
    code = (
        "import sys\n"
        "from recbole_hug.quick_start import run_recbole_hug\n"
        f"run_recbole_hug('GRU4Rec', 'tiny', config_dict={{**{FAST_OPTIONS!r}, "
        f"'data_path': {str(tiny_data)!r}}})\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
        "assert 'recbole.quick_start' not in sys.modules, 'recbole.quick_start imported'\n"
        "import torch\n"
        "assert not torch.is_anomaly_enabled(), 'anomaly detection left on'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_pandas_pin_keeps_recbole_filling_missing_cells(tmp_path: Path, workdir: Path) -> None:
    """RecBole fills empty token_seq and float cells in place; pandas 3 makes that a no-op."""
    assert Version(pd.__version__) < Version("3"), "pyproject.toml pins pandas<3"
    folder = tmp_path / "holes"
    folder.mkdir()
    rows = ["user_id:token\titem_id:token\ttimestamp:float"]
    rows += [f"u{u}\ti{(u + s) % 6 + 1}\t{s}" for u in range(1, 5) for s in range(5)]
    (folder / "holes.inter").write_text("\n".join(rows) + "\n")
    items = ["item_id:token\tprice:float\ttags:token_seq"]
    items += ["i1\t\ta b", "i2\t2.0\t", "i3\t3.0\tb", "i4\t\t", "i5\t5.0\tc", "i6\t6.0\ta"]
    (folder / "holes.item").write_text("\n".join(items) + "\n")
    from recbole_hug.data.utils import create_dataset

    config = Config(
        "SASRec",
        "holes",
        config_dict={"data_path": str(tmp_path), "load_col": None, **FAST_OPTIONS},
    )
    dataset = create_dataset(config)
    prices = dataset.item_feat["price"]
    assert not prices.isna().any()
    assert sorted(prices) == [2.0, 3.0, 4.0, 4.0, 4.0, 5.0, 6.0]  # missing (and padding) -> mean
    assert sum(len(tags) for tags in dataset.item_feat["tags"]) == 5  # empty cells -> []


def test_pop_counts_every_row_of_a_batch(tiny_data: Path) -> None:
    from recbole.model.general_recommender.pop import Pop

    Config("Pop", "tiny", config_dict={**FAST_OPTIONS, "data_path": str(tiny_data)})
    assert Pop.calculate_loss is compat._pop_calculate_loss
    items = torch.tensor([1, 1, 1, 2])
    recbole_way = torch.zeros(3, 1, dtype=torch.long)
    recbole_way[items, :] = recbole_way[items, :] + 1  # RecBole's own line: item 1 counted once
    assert recbole_way.view(-1).tolist() == [0, 1, 1]
    model = type("FakePop", (), {})()
    model.ITEM_ID, model.device = "item_id", "cpu"
    model.item_cnt = torch.zeros(3, 1, dtype=torch.long)
    compat._pop_calculate_loss(model, {"item_id": items})
    assert model.item_cnt.view(-1).tolist() == [0, 3, 1]
    assert model.max_cnt.tolist() == [3]
