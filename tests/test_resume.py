"""``--resume``: a run interrupted after some epochs and resumed ends as the uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from recbole.trainer import Trainer

from recbole_hug.errors import ConfigError, HugError
from recbole_hug.quick_start import main, run_recbole_hug
from recbole_hug.resume import load_resume_state, resume_file_of
from tests.conftest import FAST_OPTIONS
from tests.model.test_hugt import OPTIONS as HUGT_SMALL

#: Four epochs, dropout (torch RNG), step decay of the learning rate (the scheduler) and
#: shuffled training batches (the dataloader's generator).
OPTIONS = {
    **FAST_OPTIONS,
    "epochs": 4,
    "train_batch_size": 32,
    "lr_decay_step": 1,
    "lr_decay_rate": 0.5,
    "dropout_prob": 0.3,
    "stopping_step": 10,
}


RECBOLE_TRAIN_EPOCH = Trainer._train_epoch


class Interrupted(Exception):
    """Stands for a kill in the middle of an epoch."""


#: HUGT's small options (its own dataset: training windows), with the same schedule.
HUGT_OPTIONS = {**HUGT_SMALL, **{key: OPTIONS[key] for key in OPTIONS if key != "dropout_prob"}}


def _run(tiny_data: Path, model: str = "GRU4Rec", **options) -> dict:
    defaults = HUGT_OPTIONS if model == "HUGT" else OPTIONS
    return run_recbole_hug(
        model, "tiny", config_dict={**defaults, "data_path": str(tiny_data), **options}
    )


def _interrupt_at(monkeypatch: pytest.MonkeyPatch, epoch: int) -> list[int]:
    """Make RecBole's epoch ``epoch`` raise (after the mixin wrote the resume state); returns
    the list of epochs that RecBole's epoch ran for."""
    trained: list[int] = []

    def train_epoch(self, train_data, epoch_idx, *args, **kwargs):
        if epoch_idx == epoch:
            raise Interrupted
        trained.append(epoch_idx)
        return RECBOLE_TRAIN_EPOCH(self, train_data, epoch_idx, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_train_epoch", train_epoch)
    return trained


def _untimed(epochs: list[dict]) -> list[dict]:
    """An epoch log without its times (which differ between runs)."""
    return [{k: v for k, v in epoch.items() if not k.endswith("_seconds")} for epoch in epochs]


@pytest.mark.parametrize("model", ["GRU4Rec", "HUGT"])
def test_a_resumed_run_ends_as_the_uninterrupted_run(
    tiny_data: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, model: str
) -> None:
    whole = _run(tiny_data, model, checkpoint_dir="whole")

    trained = _interrupt_at(monkeypatch, 2)
    with pytest.raises(Interrupted):
        _run(tiny_data, model)
    assert trained == [0, 1]
    (state,) = (workdir / "saved").glob("*.resume")
    (best,) = (workdir / "saved").glob(f"{model}-*.pth")
    assert torch.load(state, weights_only=True)["epoch"] == 2

    trained = _interrupt_at(monkeypatch, -1)  # no more interruptions; counts the epochs
    resumed = _run(tiny_data, model, resume=str(best))
    assert trained == [2, 3]  # continued, not started over
    assert resumed["best_valid_result"] == whole["best_valid_result"]
    assert resumed["test_result"] == whole["test_result"]
    assert resumed["epochs_run"] == whole["epochs_run"] == 4
    # the epoch log (learning curve) comes back whole: the epochs before the interruption too
    assert [epoch["epoch"] for epoch in resumed["epoch_log"]] == [0, 1, 2, 3]
    assert _untimed(resumed["epoch_log"]) == _untimed(whole["epoch_log"])
    assert all(epoch["valid_seconds"] > 0 for epoch in resumed["epoch_log"])
    assert not state.exists()  # a finished run deletes its resume state
    assert sorted((workdir / "saved").glob(f"{model}-*")) == [best]
    assert not list((workdir / "saved").glob(".*.tmp"))  # no temporary file left


def test_resume_refuses_other_options_and_missing_states(
    tiny_data: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    _interrupt_at(monkeypatch, 1)
    with pytest.raises(Interrupted):
        _run(tiny_data)
    (state,) = (workdir / "saved").glob("*.resume")
    with pytest.raises(ConfigError, match=r"learning_rate \(was 0.001, now 0.01\)"):
        _run(tiny_data, resume=str(state), learning_rate=0.01)
    saved = torch.load(state, weights_only=True)["config"]
    assert load_resume_state(str(state), {**saved, "an_option_added_since": 1})  # accepted
    with pytest.raises(ConfigError, match=r"seed \(was 2020, now 7\)"):
        load_resume_state(str(state), {**saved, "seed": 7})

    state.write_bytes(state.read_bytes()[:-100])  # damaged
    with pytest.raises(HugError, match="is damaged"):
        _run(tiny_data, resume=str(state))

    args = ["--model=GRU4Rec", "--dataset=tiny", f"--data_path={tiny_data}", "--epochs=1"]
    assert main([*args, "--resume=saved/nothing.pth"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: option 'resume': saved/nothing.pth not found"
    )  # at once: nothing was logged before


def test_the_resume_file_sits_beside_the_best_checkpoint() -> None:
    assert resume_file_of("saved/HUGT-Dec-01-2026_10-00-00.pth") == Path(
        "saved/HUGT-Dec-01-2026_10-00-00.resume"
    )
