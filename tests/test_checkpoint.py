"""Checkpoints as plain data: options that load weights-only and rebuild the same Config, and
the serving entry's user histories worked out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from recbole.data.interaction import Interaction
from recbole.utils import ModelType

from recbole_hug import checkpoint as checkpoint_module
from recbole_hug.checkpoint import (
    config_dict_from_options,
    plain,
    plain_options,
    restore_options,
    user_histories,
)
from recbole_hug.config import Config
from tests.conftest import FAST_OPTIONS


class Part:
    """A dataset part: its rows by index, as RecBole's datasets give them."""

    def __init__(self, **rows: list) -> None:
        self.rows = Interaction({name: torch.tensor(value) for name, value in rows.items()})

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index) -> Interaction:
        return self.rows[index]


def test_plain_values_load_weights_only_and_enums_come_back(tmp_path: Path) -> None:
    options = {
        "MODEL_TYPE": ModelType.SEQUENTIAL,
        "score": np.float64(0.5),
        "device": torch.device("cpu"),
        "path": Path("a/b"),
        "ids": {3, 1, 2},
        "pair": (1, "x"),
        "nested": {"k": [np.int64(3), None, True]},
    }
    torch.save(plain(options), tmp_path / "options.pth")
    loaded = torch.load(tmp_path / "options.pth", weights_only=True)
    assert loaded == {
        "MODEL_TYPE": "SEQUENTIAL",
        "score": 0.5,
        "device": "cpu",
        "path": "a/b",
        "ids": [1, 2, 3],
        "pair": (1, "x"),
        "nested": {"k": [3, None, True]},
    }
    assert type(loaded["score"]) is float
    assert restore_options(loaded)["MODEL_TYPE"] is ModelType.SEQUENTIAL


@pytest.mark.parametrize(
    ("model", "dataset", "options"),
    [
        ("SASRec", "tiny", {}),
        ("HUGT", "tiny", {"n_layers": 1, "graph_mode": "SE"}),
        ("HGGNN", "tiny", {"edge_types": ["in", "out"]}),
        ("BPR", "tiny", {"train_neg_sample_args": {"distribution": "popularity"}}),
        ("GRU4Rec", "ml-100k", {"data_path": None}),
    ],
)
def test_a_config_rebuilt_from_saved_options_is_the_same(
    model: str, dataset: str, options: dict, tiny_data: Path
) -> None:
    given = {**FAST_OPTIONS, "data_path": str(tiny_data), **options}
    saved = plain_options(Config(model, dataset, config_dict=given))
    rebuilt = Config(saved["model"], saved["dataset"], config_dict=config_dict_from_options(saved))
    assert plain_options(rebuilt) == saved


def test_user_histories_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint_module, "ROW_CHUNK", 2)  # rows read across chunks
    fields = {"USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "LIST_SUFFIX": "_list"}
    config = {**fields, "ITEM_LIST_LENGTH_FIELD": "item_length"}
    # User 1 saw 5 6 7 8, user 2 saw 9 4 1 2 3; user 3 has no row. Prefixes of at most 3 items:
    # RecBole's training rows, a training window (no target, as HUGT's) and test rows.
    train = Part(
        user_id=[1, 1], item_id_list=[[5, 0, 0], [5, 6, 0]], item_length=[1, 2], item_id=[6, 7]
    )
    window = Part(user_id=[2], item_id_list=[[9, 4, 1]], item_length=[3])
    test = Part(
        user_id=[1, 2], item_id_list=[[5, 6, 7], [4, 1, 2]], item_length=[3, 3], item_id=[8, 3]
    )
    found = user_histories([train, window, test], config, n_users=4, n_items=10)
    assert found["served_offsets"].tolist() == [0, 0, 3, 6, 6]
    assert found["served_items"].tolist() == [6, 7, 8, 1, 2, 3]  # the last 3 items
    assert found["seen_offsets"].tolist() == [0, 0, 4, 9, 9]
    assert found["seen_items"].tolist() == [5, 6, 7, 8, 1, 2, 3, 4, 9]
