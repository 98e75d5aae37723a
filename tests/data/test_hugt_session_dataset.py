"""HUGT on the session rows: the rows every model reads, HUGT's training targets, one epoch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recbole_hug.config import Config
from recbole_hug.data.hugt_dataset import TARGET_LIST_FIELD
from recbole_hug.data.hugt_session_dataset import HUGTSessionDataset
from recbole_hug.data.utils import create_dataset
from recbole_hug.quick_start import run_recbole_hug
from tests.model.test_hggnn import OPTIONS, write_session_data

HUGT_OPTIONS = {
    **OPTIONS,
    "session_rows": True,
    "hidden_size": 16,
    "inner_size": 16,
    "head_size": 8,
    "svd_dim": 4,
    "hug_k": 3,
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_session_data(tmp_path_factory.mktemp("hugt-sessions"))


def parts(model: str, data: Path, **options) -> list:
    config = Config(model, "sess", config_dict={**HUGT_OPTIONS, "data_path": str(data), **options})
    dataset = create_dataset(config)
    return [dataset, *dataset.build()]


def test_hugt_reads_the_session_rows_of_every_model(data: Path, workdir: Path) -> None:
    dataset, *hugt = parts("HUGT", data)
    assert type(dataset) is HUGTSessionDataset
    _, *gru = parts("GRU4Rec", data)
    for mine, theirs in zip(hugt, gru, strict=True):
        for field in ("user_id", "item_id", "item_id_list", "item_length"):
            assert torch.equal(mine.inter_feat[field], theirs.inter_feat[field])
    rows = hugt[0].inter_feat
    targets = rows[TARGET_LIST_FIELD]
    last = rows["item_length"] - 1
    assert torch.equal(targets[torch.arange(len(rows)), last], rows["item_id"])
    assert int((targets > 0).sum()) == len(rows)  # each training target once
    assert hugt[0].svd_item_embeddings.shape == (hugt[0].item_num, 4)


def test_hugt_trains_an_epoch_on_the_session_rows(data: Path, workdir: Path) -> None:
    result = run_recbole_hug("HUGT", "sess", config_dict={**HUGT_OPTIONS, "data_path": str(data)})
    assert set(result["test_result"]) >= {"hit@10", "ndcg@10"}
    assert list((workdir / "saved").glob("HUGT-*.pth"))
