"""The trainer mixin: learning-rate step decay and weights-only checkpoints, for every model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from recbole.data import data_preparation
from recbole.data.interaction import Interaction
from recbole.trainer import Trainer
from recbole.utils import ModelType

from recbole_hug import trainer as trainer_module
from recbole_hug.config import Config
from recbole_hug.data.utils import create_dataset
from recbole_hug.errors import ConfigError
from recbole_hug.files import CHECKSUM_KEY
from recbole_hug.trainer import (
    CHECKPOINT_KEY,
    config_dict_from_options,
    decayed_learning_rate,
    exact_stopping_step,
    hug_trainer,
    plain,
    plain_options,
    restore_options,
    user_histories,
)
from recbole_hug.utils import get_model, get_trainer
from tests.conftest import FAST_OPTIONS


def test_decayed_learning_rate_by_hand() -> None:
    # step 3, rate 0.1: epochs 0-2 at 1e-3, 3-5 at 1e-4, 6 at 1e-5
    rates = [decayed_learning_rate(1e-3, epoch, 3, 0.1) for epoch in range(7)]
    assert rates == pytest.approx([1e-3] * 3 + [1e-4] * 3 + [1e-5])
    assert decayed_learning_rate(1e-3, 50, 0, 0.1) == 1e-3


def test_hug_trainer_is_one_class_per_base() -> None:
    assert hug_trainer(Trainer) is hug_trainer(Trainer)
    assert hug_trainer(hug_trainer(Trainer)) is hug_trainer(Trainer)
    assert hug_trainer(Trainer).__name__ == "HugTrainer"


def _trainer(tiny_data: Path, **options):
    config = Config(
        "GRU4Rec", "tiny", config_dict={**FAST_OPTIONS, "data_path": str(tiny_data), **options}
    )
    dataset = create_dataset(config)
    train, valid, _ = data_preparation(config, dataset)
    model = get_model("GRU4Rec")(config, train._dataset)
    return get_trainer(ModelType.SEQUENTIAL, "GRU4Rec")(config, model), train, valid


def _rates_per_epoch(trainer, train, valid) -> list[float]:
    """The learning rate each epoch of ``trainer.fit`` trained at."""
    seen: list[float] = []
    trainer.fit(
        train,
        valid,
        saved=False,
        verbose=False,
        callback_fn=lambda epoch, score: seen.append(trainer.optimizer.param_groups[0]["lr"]),
    )
    return seen


def test_each_epoch_trains_at_its_decayed_rate(tiny_data: Path, workdir: Path) -> None:
    trainer, train, valid = _trainer(
        tiny_data, epochs=5, lr_decay_step=2, lr_decay_rate=0.5, learning_rate=0.01
    )
    assert _rates_per_epoch(trainer, train, valid) == pytest.approx(
        [0.01, 0.01, 0.005, 0.005, 0.0025]
    )


def test_no_decay_by_default(tiny_data: Path, workdir: Path) -> None:
    trainer, train, valid = _trainer(tiny_data, epochs=3, learning_rate=0.01)
    assert _rates_per_epoch(trainer, train, valid) == [0.01, 0.01, 0.01]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"lr_decay_step": -1}, "lr_decay_step"),
        ({"lr_decay_step": 1.5}, "lr_decay_step"),
        ({"lr_decay_rate": 0.0}, "lr_decay_rate"),
        ({"lr_decay_rate": 2}, "lr_decay_rate"),
    ],
)
def test_bad_decay_options_are_named(
    options: dict, named: str, tiny_data: Path, workdir: Path
) -> None:
    with pytest.raises(ConfigError, match=named):
        _trainer(tiny_data, **options)


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


def test_checkpoints_load_weights_only_and_resume(
    tiny_data: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")  # every torch.load, RecBole's too
    trainer, train, valid = _trainer(tiny_data, epochs=1)
    trainer.fit(train, valid, saved=True, verbose=False)
    checkpoint = torch.load(trainer.saved_model_file, weights_only=True)
    recbole_keys = {"epoch", "cur_step", "best_valid_score", "state_dict", "other_parameter"}
    assert set(checkpoint) == {"config", "optimizer", CHECKPOINT_KEY, CHECKSUM_KEY, *recbole_keys}
    assert checkpoint["config"] == plain_options(trainer.config)

    resumed, train, valid = _trainer(tiny_data, epochs=2)
    resumed.resume_checkpoint(trainer.saved_model_file)  # RecBole's own reload
    assert resumed.start_epoch == 1
    for name, tensor in resumed.model.state_dict().items():
        assert torch.equal(tensor, checkpoint["state_dict"][name]), name
    epochs = []
    resumed.fit(
        train, valid, saved=True, verbose=False, callback_fn=lambda epoch, _: epochs.append(epoch)
    )
    assert epochs == [1]
    assert resumed.evaluate(valid, load_best_model=True)  # RecBole's reload of the best model


class Part:
    """A dataset part: its rows by index, as RecBole's datasets give them."""

    def __init__(self, **rows: list) -> None:
        self.rows = Interaction({name: torch.tensor(value) for name, value in rows.items()})

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index) -> Interaction:
        return self.rows[index]


def test_user_histories_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trainer_module, "ROW_CHUNK", 2)  # rows read across chunks
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


@pytest.mark.parametrize(
    ("strict", "exact", "epochs_run"), [(True, False, 4), (True, True, 3), (False, False, 8)]
)
def test_strict_stopping_counts_a_tie_as_no_progress(
    strict: bool, exact: bool, epochs_run: int, tiny_data: Path, workdir: Path
) -> None:
    # learning rate 0: every validation score ties with the first; stopping_step 2 stops a
    # strict run after epochs 1, 2 and 3 stall (RecBole's count: 3 > 2), an exact one after
    # epochs 1 and 2, while RecBole's rule runs all 8 epochs
    trainer, train, valid = _trainer(
        tiny_data,
        epochs=8,
        learning_rate=0.0,
        stopping_step=2,
        stopping_strict=strict,
        stopping_exact=exact,
    )
    seen = []
    trainer.fit(train, valid, saved=False, verbose=False, callback_fn=lambda e, s: seen.append(e))
    assert len(seen) == epochs_run


@pytest.mark.parametrize("step", [0, -1, 2.5, True])
def test_exact_stopping_rejects_a_step_below_one(step: object) -> None:
    with pytest.raises(ConfigError, match="stopping_step"):
        exact_stopping_step(step)


@pytest.mark.parametrize("serving", [True, False])
def test_checkpoint_serving_decides_the_serving_entry(
    serving: bool, tiny_data: Path, workdir: Path
) -> None:
    from recbole_hug.files import load_checkpoint
    from recbole_hug.quick_start import run_recbole_hug

    options = {**FAST_OPTIONS, "data_path": str(tiny_data), "checkpoint_serving": serving}
    run_recbole_hug("GRU4Rec", "tiny", config_dict=options)
    (saved,) = (workdir / "saved").glob("GRU4Rec-*.pth")
    assert (CHECKPOINT_KEY in load_checkpoint(saved)) is serving  # each user's history or none
