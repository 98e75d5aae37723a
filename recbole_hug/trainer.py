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
- Checkpoints that ``torch.load(..., weights_only=True)`` reads (plain dicts, lists, str, numbers,
  tensors; pickle protocol 2), with what serving needs (:mod:`recbole_hug.serve`). RecBole's keys
  stay (``config``, ``epoch``, ``cur_step``, ``best_valid_score``, ``state_dict``,
  ``other_parameter``, ``optimizer``: RecBole's ``resume_checkpoint`` and ``evaluate`` read them),
  but ``config`` is the run's final options as a plain dict (:func:`plain_options`) instead of the
  pickled Config; :data:`CHECKPOINT_KEY` adds the serving entry (:func:`serving_entry`): the id
  vocabularies of the user and item fields, each user's served sequence and seen items, and the
  dataset-level artifacts that a plugin model's constructor reads (HUGT's
  ``svd_item_embeddings``, HG-GNN's ``global_graph`` and ``graph_blocks``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from recbole.trainer import Trainer
from recbole.utils import EvaluatorType, InputType, ModelType, set_color

from recbole_hug import registry
from recbole_hug.errors import ConfigError
from recbole_hug.files import save_checkpoint
from recbole_hug.graph.global_graph import GlobalGraph
from recbole_hug.resume import (
    RESUME_FORMAT,
    load_resume_state,
    restore_rng_states,
    resume_file_of,
    rng_states,
)

#: The checkpoint entry that recbole-hug adds to RecBole's keys (see :func:`serving_entry`).
CHECKPOINT_KEY = "recbole_hug"
#: The version of that entry's layout.
CHECKPOINT_FORMAT = 1
#: Options whose values are enums: checkpoints store their names.
ENUM_OPTIONS: dict[str, type[Enum]] = {
    "MODEL_TYPE": ModelType,
    "MODEL_INPUT_TYPE": InputType,
    "eval_type": EvaluatorType,
}
#: Options that RecBole's Config derives (from the model class, the other options or the
#: process), which a Config rebuilt from saved options computes afresh.
DERIVED_OPTIONS: frozenset[str] = frozenset(
    {
        "model",
        "dataset",
        "data_path",
        *ENUM_OPTIONS,
        "valid_metric_bigger",
        "train_neg_sample_args",
        "valid_neg_sample_args",
        "test_neg_sample_args",
        "device",
        "single_spec",
        "local_rank",
        "nproc",
        "world_size",
        "ip",
        "port",
        "offset",
    }
)
#: Dataset attributes that plugin models' constructors read, stored in their checkpoints:
#: HUGT's ``[n_items, svd_dim]`` SVD item embeddings, HG-GNN's global graph and graph blocks.
ARTIFACTS: tuple[str, ...] = ("svd_item_embeddings", "global_graph", "graph_blocks")
#: Rows read at a time when a checkpoint's user histories are collected.
ROW_CHUNK = 65536


def plain(value: Any) -> Any:
    """``value`` made of what ``torch.load(..., weights_only=True)`` reads: dicts, lists, tuples,
    str, numbers, None and tensors. Enums become their names, sets sorted lists, numpy scalars
    Python numbers, anything else its ``str`` (devices, paths)."""
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value)
    if isinstance(value, (set, frozenset)):
        return sorted((plain(item) for item in value), key=str)
    if isinstance(value, np.generic):  # before float: numpy's float64 is a float
        return value.item()
    if value is None or isinstance(value, (str, int, float, torch.Tensor)):
        return value
    return str(value)


def plain_options(config: Any) -> dict[str, Any]:
    """A Config's final options as a plain dict (:func:`plain`): a checkpoint's ``config``."""
    return {key: plain(value) for key, value in config.final_config_dict.items()}


def restore_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`plain_options` with the enum-valued options (:data:`ENUM_OPTIONS`) as enums."""
    restored = dict(options)
    for key, enum in ENUM_OPTIONS.items():
        if isinstance(restored.get(key), str):
            restored[key] = enum[restored[key]]
    return restored


def config_dict_from_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``config_dict`` that rebuilds, with the saved model and dataset, a Config whose final
    options are ``options`` (a checkpoint's ``config``): every option as it was at training,
    except those the Config derives (:data:`DERIVED_OPTIONS`) and ``resume``; ``data_path`` is
    the folder that held the dataset's folder, and RecBole's "no negative sampling" form of
    ``train_neg_sample_args`` is ``None`` again."""
    rebuilt = {
        key: value
        for key, value in options.items()
        if key not in DERIVED_OPTIONS and key != "resume"  # reloading is no resumed run
    }
    rebuilt["data_path"] = str(Path(options["data_path"]).parent)
    sampling = options.get("train_neg_sample_args")
    if isinstance(sampling, dict) and sampling.get("distribution") != "none":
        rebuilt["train_neg_sample_args"] = sampling
    elif "train_neg_sample_args" in options:
        rebuilt["train_neg_sample_args"] = None
    return rebuilt


def encode_artifact(value: Any) -> Any:
    """A dataset artifact (:data:`ARTIFACTS`) as plain data: tensors as they are, a
    :class:`GlobalGraph` as a dict of its sizes and its edge arrays as tensors."""
    if isinstance(value, GlobalGraph):
        return {
            "kind": "GlobalGraph",
            "n_users": value.n_users,
            "n_items": value.n_items,
            "edges": {
                name: [torch.from_numpy(np.asarray(part)) for part in triple]
                for name, triple in value.edges.items()
            },
        }
    return value


def decode_artifact(value: Any) -> Any:
    """The inverse of :func:`encode_artifact`."""
    if isinstance(value, dict) and value.get("kind") == "GlobalGraph":
        return GlobalGraph(
            n_users=value["n_users"],
            n_items=value["n_items"],
            edges={
                name: tuple(part.numpy() for part in triple)
                for name, triple in value["edges"].items()
            },
        )
    return value


def _offsets(owner: torch.Tensor, n_rows: int) -> torch.Tensor:
    """``[n_rows + 1]`` CSR offsets of sorted ``[N]`` row ids."""
    offsets = torch.zeros(n_rows + 1, dtype=torch.int64)
    offsets[1:] = torch.cumsum(torch.bincount(owner, minlength=n_rows), 0)
    return offsets


def _item_dtype(n_items: int) -> torch.dtype:
    return torch.int32 if n_items < 2**31 else torch.int64


def _sequences(rows: Any, fields: tuple[str, str, str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's prefix followed by its target, its last ``W`` items (``W`` the prefix width):
    ``([R, W] items, left-aligned, 0-padded; [R] lengths)``."""
    sequence_field, length_field, target_field = fields
    prefix, length = rows[sequence_field], rows[length_field]
    n, width = prefix.shape
    full = torch.cat([prefix, torch.zeros(n, 1, dtype=prefix.dtype)], dim=1)
    full[torch.arange(n), length] = rows[target_field]
    kept = torch.clamp(length + 1, max=width)
    columns = (length + 1 - kept).unsqueeze(1) + torch.arange(width)
    inside = torch.arange(width) < kept.unsqueeze(1)
    return full.gather(1, columns).masked_fill(~inside, 0), kept


def user_histories(
    parts: Sequence[Any], config: Any, n_users: int, n_items: int
) -> dict[str, torch.Tensor]:
    """Each user's served sequence and seen items, from the rows of ``parts`` (datasets whose
    rows hold the user, an item prefix and its length, and mostly a target item: RecBole's
    sequential rows, HUGT's training windows, HG-GNN's session rows).

    - Seen items: every item the user interacted with in the parts: every item of every row
      (prefix and target), except in the training part (the first), where a row with a target
      gives its target and its first prefix item only. That is exact and ``O(rows)`` there: each
      item of a training sequence but its first is the target of a row, and the first starts
      the prefix of the sequence's first row (RecBole's augmentation and the session rows
      alike); rows without a target (HUGT's training windows) are read whole.
    - Served sequence: the prefix and the target of the user's last row that has a target (the
      parts in order, then their rows: train, valid, test are chronological per user), its last
      ``MAX_ITEM_LIST_LENGTH`` items: the user's latest items, which is the user's latest session
      for session rows.

    Returns:
        CSR arrays over user ids: ``served_offsets`` ``[n_users + 1]`` and ``served_items``,
        ``seen_offsets`` ``[n_users + 1]`` and ``seen_items`` (sorted per user); items int32
        (int64 beyond 2**31 items).
    """
    uid, iid = config["USER_ID_FIELD"], config["ITEM_ID_FIELD"]
    fields = (iid + config["LIST_SUFFIX"], config["ITEM_LIST_LENGTH_FIELD"], iid)
    seen, last_part, last_row = [], np.full(n_users, -1), np.full(n_users, -1)
    for number, part in enumerate(parts):
        for start in range(0, len(part), ROW_CHUNK):
            rows = part[start : start + ROW_CHUNK]  # a slice: views, no copy
            users, prefix = rows[uid], rows[fields[0]]
            targets = [rows[iid]] if iid in rows else []
            if targets:
                distinct, reversed_first = np.unique(users.numpy()[::-1], return_index=True)
                last_part[distinct] = number
                last_row[distinct] = start + len(users) - 1 - reversed_first
            if targets and number == 0:
                owner, items = [users, users], [*targets, prefix[:, 0]]
            else:
                inside = torch.arange(prefix.shape[1]) < rows[fields[1]].unsqueeze(1)
                owner = [users.unsqueeze(1).expand_as(prefix)[inside], *[users for _ in targets]]
                items = [prefix[inside], *targets]
            keys = torch.cat(owner) * n_items + torch.cat(items)
            seen.append(keys[torch.cat(items) > 0])
    seen_keys = torch.unique(torch.cat(seen)) if seen else torch.zeros(0, dtype=torch.int64)
    owners, sequences = [], []
    for number, part in enumerate(parts):
        users = np.flatnonzero(last_part == number)
        if len(users):
            items, length = _sequences(part[last_row[users]], fields)
            owners.append(torch.from_numpy(users).repeat_interleave(length))
            sequences.append(items[torch.arange(items.shape[1]) < length.unsqueeze(1)])
    owner = torch.cat(owners) if owners else torch.zeros(0, dtype=torch.int64)
    order = torch.argsort(owner, stable=True)
    served = torch.cat(sequences)[order] if sequences else torch.zeros(0, dtype=torch.int64)
    dtype = _item_dtype(n_items)
    return {
        "served_offsets": _offsets(owner[order], n_users),
        "served_items": served.to(dtype),
        "seen_offsets": _offsets(seen_keys // n_items, n_users),
        "seen_items": (seen_keys % n_items).to(dtype),
    }


def _missing_fields(parts: Sequence[Any], config: Any) -> list[str]:
    """The fields :func:`user_histories` reads that the first row of some part lacks."""
    needed = [
        config["USER_ID_FIELD"],
        config["ITEM_ID_FIELD"] + config["LIST_SUFFIX"],
        config["ITEM_LIST_LENGTH_FIELD"],
    ]
    rows = [part[np.arange(1)] for part in parts if len(part)]
    return sorted({field for row in rows for field in needed if field not in row})


def serving_entry(config: Any, train: Any, parts: Sequence[Any]) -> dict[str, Any]:
    """The :data:`CHECKPOINT_KEY` entry of a checkpoint: what :mod:`recbole_hug.serve` needs.

    Args:
        config: the run's Config.
        train: the training dataset (the vocabularies; the artifacts of plugin models).
        parts: the datasets whose rows give the users' histories (:func:`user_histories`).

    Returns:
        ``format``, ``model``, ``dataset``; then, for a sequential model, ``user_field``,
        ``item_field``, ``users`` and ``items`` (id -> token), the :func:`user_histories`
        arrays and ``artifacts`` (name -> :func:`encode_artifact`); for other models,
        ``not_servable``, saying why.
    """
    entry = {"format": CHECKPOINT_FORMAT, "model": config["model"], "dataset": config["dataset"]}
    if config["MODEL_TYPE"] != ModelType.SEQUENTIAL:
        kind = config["MODEL_TYPE"].name.lower()
        return {
            **entry,
            "not_servable": f"model {config['model']} is a {kind} model; serving supports "
            "sequential models (recommendations from each user's item sequence)",
        }
    missing = _missing_fields(parts, config)
    if missing:
        return {
            **entry,
            "not_servable": f"the rows of dataset class {type(train).__name__} have no "
            f"field {', '.join(missing)} (each user's item sequence)",
        }
    uid, iid = config["USER_ID_FIELD"], config["ITEM_ID_FIELD"]
    users, items = train.field2id_token[uid].tolist(), train.field2id_token[iid].tolist()
    registered = registry.get_spec(config["model"]) is not None
    return {
        **entry,
        "user_field": uid,
        "item_field": iid,
        "users": users,
        "items": items,
        **user_histories(parts, config, len(users), len(items)),
        "artifacts": {
            name: encode_artifact(getattr(train, name))
            for name in ARTIFACTS
            if registered and hasattr(train, name)
        },
    }


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


def checkpoint_state(
    config: Any, serving: dict[str, Any] | None, training: Mapping[str, Any]
) -> dict[str, Any]:
    """A checkpoint: RecBole's keys (``training``: ``epoch``, ``cur_step``,
    ``best_valid_score``, ``state_dict``, ``other_parameter``, ``optimizer``) with ``config`` as
    :func:`plain_options`, and the serving entry under :data:`CHECKPOINT_KEY` (none with
    ``checkpoint_serving: False``)."""
    state = {"config": plain_options(config), **training}
    if serving is not None:
        state[CHECKPOINT_KEY] = serving
    state["best_valid_score"] = plain(state["best_valid_score"])
    return state


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
