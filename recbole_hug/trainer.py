"""What recbole-hug adds to RecBole's trainers, for plugin models and RecBole's models alike.

:func:`hug_trainer` derives, from any RecBole trainer class, a class with :class:`HugTrainerMixin`
in front; :func:`recbole_hug.utils.get_trainer` returns such classes, so every entry point
(``run_recbole_hug``, ``objective_function``, the tuner) trains with them.

Added behaviour:

- Step decay of the learning rate (``lr_decay_step``, ``lr_decay_rate``): the HG-GNN paper's
  "decay by 0.1 after every 3 epochs" (section 5.1.4), which RecBole 1.2.1 has no option for. The
  rate of epoch ``e`` is ``learning_rate * lr_decay_rate ** (e // lr_decay_step)``, set at the
  start of each epoch from the epoch number alone, so a resumed run continues the schedule.
- ``stopping_strict``: early stopping counts a validation score equal to the best as no
  progress (the HG-GNN paper's "does not increase"; RecBole counts it as progress).
- ``stopping_exact``: a run stops after exactly ``stopping_step`` epochs without a better
  validation score, the papers' count; RecBole's ``early_stopping`` stops only when the count
  exceeds ``stopping_step``, one epoch later.
- ``epoch_log``: per epoch, its training time and loss, and its validation time, score and
  result; kept in the resume state, so a resumed run has its whole history (the reproduction
  runner writes it beside each run: learning curves, epoch and evaluation times).
- ``last_ranks``: after each evaluation, each row's rank of its target within the top
  ``max(topk)`` (1 = first; 0 = not in it), in the rows' order: per-row results, so that two
  models can be compared user by user and position by position.
- Checkpoints written atomically with a checksum (:func:`recbole_hug.files.save_checkpoint`),
  and a resume state beside the best checkpoint, which ``--resume`` continues from
  (:mod:`recbole_hug.resume`).
- Checkpoints as plain data that ``torch.load(..., weights_only=True)`` reads, with what serving
  needs (:mod:`recbole_hug.checkpoint`, :mod:`recbole_hug.serve`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
import torch
from recbole.trainer import Trainer
from recbole.utils import set_color

from recbole_hug.checkpoint import (
    DERIVED_OPTIONS,
    checkpoint_state,
    plain,
    plain_options,
    serving_entry,
)
from recbole_hug.errors import ConfigError
from recbole_hug.files import save_checkpoint
from recbole_hug.resume import (
    RESUME_FORMAT,
    load_resume_state,
    restore_rng_states,
    resume_file_of,
    rng_states,
)


def check_lr_decay(config: Any) -> None:
    """Raise ConfigError naming ``lr_decay_step`` or ``lr_decay_rate`` if out of range."""
    step, rate = config["lr_decay_step"], config["lr_decay_rate"]
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise ConfigError(
            f"option 'lr_decay_step' must be an integer >= 0 (0 = no decay), got {step!r}"
        )
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
        raise ConfigError(f"option 'lr_decay_rate' must be a number in (0, 1], got {rate!r}")


def decayed_learning_rate(base: float, epoch: int, step: int, rate: float) -> float:
    """The learning rate of epoch ``epoch`` (from 0) under step decay; ``step`` 0 = constant."""
    return base if step == 0 else base * rate ** (epoch // step)


def amp_falls_back(config: Any, logger: Any) -> bool:
    """Whether ``enable_amp`` must train in float32: on a CPU without bfloat16 matrix units,
    autocast's bfloat16 is emulated, several times slower than float32 (BENCHMARKS.md, "Mixed
    precision"), so the run trains in float32 and a warning says so. The option itself is left
    as set, so a run's identity and its resume state do not depend on the machine."""
    device = torch.device(config["device"] or "cpu")
    if not config["enable_amp"] or device.type != "cpu":
        return False
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return False
    logger.warning(
        "enable_amp: this CPU has no bfloat16 matrix units (AVX512-BF16 / AMX), so autocast's "
        "bfloat16 would be emulated, slower than float32: this run trains in float32"
    )
    return True


def topk_ranks(struct: Any) -> np.ndarray | None:
    """``[N]`` int16: each row's rank (1..K) of its first positive item in RecBole's top-K
    lists (``rec.topk`` of an evaluation's data struct), 0 where none is in them; None when
    the metrics collected no top-K lists (no top-K metric)."""
    if "rec.topk" not in struct:
        return None
    hits = struct.get("rec.topk")[:, :-1].bool()  # the last column: the number of positives
    ranks = (hits.int().argmax(dim=1) + 1) * hits.any(dim=1)
    return ranks.to(torch.int16).numpy()


def exact_stopping_step(stopping_step: Any) -> int:
    """RecBole's ``max_step`` that stops after exactly ``stopping_step`` epochs without a
    better validation score (RecBole stops once its counter exceeds ``max_step``).

    Raises:
        ConfigError: ``stopping_step`` is not an integer >= 1.
    """
    if isinstance(stopping_step, bool) or not isinstance(stopping_step, int) or stopping_step < 1:
        raise ConfigError(
            "stopping_step must be an integer >= 1 with stopping_exact: True, got "
            f"{stopping_step!r}"
        )
    return stopping_step - 1


class HugTrainerMixin:
    """Put in front of a RecBole trainer class (see :func:`hug_trainer`)."""

    def __init__(self, config: Any, model: Any) -> None:
        check_lr_decay(config)
        self._serving_parts: list[Any] = []
        self._fit_parts: list[Any] = []
        self._serving: dict[str, Any] | None = None
        self._saving = False
        self.epoch_log: list[dict[str, Any]] = []
        self.last_ranks: np.ndarray | None = None
        super().__init__(config, model)
        if config["stopping_exact"]:
            self.stopping_step = exact_stopping_step(config["stopping_step"])
        if amp_falls_back(config, self.logger):
            self.enable_amp = False
        self._resume_state: dict[str, Any] | None = None
        if isinstance(self, Trainer) and config["resume"]:
            derived = DERIVED_OPTIONS - {"model", "dataset", "data_path"}
            self._resume_state = load_resume_state(config["resume"], plain_options(config), derived)
            self._restore_training(self._resume_state)

    def _restore_training(self, state: Mapping[str, Any]) -> None:
        """Continue the run of a resume state (:mod:`recbole_hug.resume`): its model, optimizer,
        epoch, best score and result, early-stopping counter, losses and best checkpoint."""
        self.model.load_state_dict(state["state_dict"])
        self.model.load_other_parameter(state.get("other_parameter"))
        self.optimizer.load_state_dict(state["optimizer"])
        self.start_epoch = state["epoch"]
        self.cur_step = state["cur_step"]
        self.best_valid_score = state["best_valid_score"]
        self.best_valid_result = state["best_valid_result"]
        self.train_loss_dict = dict(state["train_loss_dict"])
        self.epoch_log = [dict(epoch) for epoch in state.get("epoch_log", [])]
        self.saved_model_file = state["saved_model_file"]
        self.logger.info(
            set_color("Resume", "blue")
            + f": {self.config['resume']}, from epoch {self.start_epoch}"
        )

    def _writes_files(self) -> bool:
        """Whether this process writes the run's files (one process, or DDP rank 0)."""
        return self.config["single_spec"] or self.config["local_rank"] == 0

    def set_serving_data(self, *data: Any) -> None:
        """The parts (dataloaders or datasets), train first, whose rows give each user's served
        sequence and seen items in this trainer's checkpoints (:func:`user_histories`); the
        entry points pass train, valid and test, so a user is served after all of the user's
        items. Without it, ``fit``'s train and valid data are used."""
        self._serving_parts = [getattr(part, "_dataset", part) for part in data]
        self._serving = None

    def fit(self, train_data: Any, valid_data: Any = None, *args: Any, **kwargs: Any) -> Any:
        """RecBole's ``fit``; remembers the data that checkpoints describe."""
        self._fit_parts = [
            getattr(part, "_dataset", part) for part in (train_data, valid_data) if part is not None
        ]
        self._serving = None
        self._saving = bool(kwargs.get("saved", args[1] if len(args) > 1 else True))
        if self._resume_state is not None:
            restore_rng_states(self._resume_state["rng"], getattr(train_data, "generator", None))
            self._resume_state = None
        result = super().fit(train_data, valid_data, *args, **kwargs)
        if self._saving and self._writes_files():
            resume_file_of(self.saved_model_file).unlink(missing_ok=True)  # the run is complete
        return result

    def _save_resume_state(self, epoch: int, train_data: Any) -> None:
        """Write the resume state of a run about to train epoch ``epoch`` (atomically)."""
        state = {
            "format": RESUME_FORMAT,
            "config": plain_options(self.config),
            "saved_model_file": str(self.saved_model_file),
            "epoch": epoch,
            "cur_step": self.cur_step,
            "best_valid_score": plain(self.best_valid_score),
            "best_valid_result": plain(self.best_valid_result),
            "train_loss_dict": plain(self.train_loss_dict),
            "epoch_log": plain(self.epoch_log),
            "state_dict": self.model.state_dict(),
            "other_parameter": self.model.other_parameter(),
            "optimizer": self.optimizer.state_dict(),
            "rng": rng_states(getattr(train_data, "generator", None)),
        }
        save_checkpoint(state, resume_file_of(self.saved_model_file))

    def _save_checkpoint(self, epoch: int, verbose: bool = True, **kwargs: Any) -> None:
        """RecBole's checkpoint with ``config`` as plain options and the serving entry
        (module docstring); decision-tree trainers keep their own."""
        if not isinstance(self, Trainer):
            return super()._save_checkpoint(epoch, **kwargs)
        if not self._writes_files():
            return None
        if self._serving is None and self.config["checkpoint_serving"]:
            parts = self._serving_parts or self._fit_parts
            self._serving = serving_entry(self.config, self._fit_parts[0], parts)
        saved_model_file = kwargs.pop("saved_model_file", self.saved_model_file)
        training = {
            "epoch": epoch,
            "cur_step": self.cur_step,
            "best_valid_score": self.best_valid_score,
            "state_dict": self.model.state_dict(),
            "other_parameter": self.model.other_parameter(),
            "optimizer": self.optimizer.state_dict(),
        }
        save_checkpoint(checkpoint_state(self.config, self._serving, training), saved_model_file)
        if verbose:
            self.logger.info(set_color("Saving current", "blue") + f": {saved_model_file}")
        return None

    def _train_epoch(self, train_data: Any, epoch_idx: int, *args: Any, **kwargs: Any) -> Any:
        """RecBole's epoch, with the epoch's learning rate set first (step decay); before it, a
        run that saves checkpoints writes its resume state (from its second epoch on)."""
        if self._saving and epoch_idx > self.start_epoch and self._writes_files():
            self._save_resume_state(epoch_idx, train_data)
        rate = decayed_learning_rate(
            self.config["learning_rate"],
            epoch_idx,
            self.config["lr_decay_step"],
            self.config["lr_decay_rate"],
        )
        for group in self.optimizer.param_groups:
            group["lr"] = rate
        start = time.perf_counter()
        loss = super()._train_epoch(train_data, epoch_idx, *args, **kwargs)
        seconds = time.perf_counter() - start
        total = sum(loss) if isinstance(loss, tuple) else loss
        self.epoch_log.append(
            {"epoch": epoch_idx, "train_seconds": seconds, "train_loss": float(total)}
        )
        return loss

    def evaluate(self, eval_data: Any, *args: Any, **kwargs: Any) -> Any:
        """RecBole's evaluation; keeps each row's rank of its target (``last_ranks``, module
        docstring) from the top-k lists RecBole's metrics were computed from."""
        self.last_ranks = None
        evaluate = self.evaluator.evaluate

        def keep(struct: Any) -> Any:
            self.last_ranks = topk_ranks(struct)
            return evaluate(struct)

        self.evaluator.evaluate = keep
        try:
            return super().evaluate(eval_data, *args, **kwargs)
        finally:
            del self.evaluator.evaluate  # the evaluator's own method again

    def _valid_epoch(self, valid_data: Any, *args: Any, **kwargs: Any) -> tuple[float, dict]:
        """RecBole's validation; with ``stopping_strict``, a score equal to the best is a stall.

        RecBole's early stopping counts a tie with the best score as progress, so a run whose
        score stops moving (as under learning-rate decay) never stops; the score handed to it
        is then one float step worse than the best (the logged metrics are untouched).
        """
        start = time.perf_counter()
        score, result = super()._valid_epoch(valid_data, *args, **kwargs)
        if self.epoch_log:
            self.epoch_log[-1].update(
                valid_seconds=time.perf_counter() - start,
                valid_score=float(score),
                valid_result={key: float(value) for key, value in result.items()},
            )
        if self.config["stopping_strict"] and score == self.best_valid_score:
            score = math.nextafter(score, -math.inf if self.valid_metric_bigger else math.inf)
        return score, result


@cache
def hug_trainer(base: type) -> type:
    """``base`` (a RecBole trainer class) with :class:`HugTrainerMixin` in front; one class per
    base, named ``Hug<base>``. A base that already has the mixin is returned as it is."""
    if issubclass(base, HugTrainerMixin):
        return base
    return type(f"Hug{base.__name__}", (HugTrainerMixin, base), {"__module__": __name__})
