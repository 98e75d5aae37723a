"""The trainer mixin: learning-rate step decay and weights-only checkpoints, for every model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from recbole.data import data_preparation
from recbole.trainer import Trainer
from recbole.utils import ModelType

from recbole_hug.checkpoint import CHECKPOINT_KEY, plain_options
from recbole_hug.config import Config
from recbole_hug.data.utils import create_dataset
from recbole_hug.errors import ConfigError
from recbole_hug.files import CHECKSUM_KEY
from recbole_hug.trainer import decayed_learning_rate, exact_stopping_step, hug_trainer
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
