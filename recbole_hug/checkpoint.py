"""What a recbole-hug checkpoint holds, as plain data that ``torch.load(..., weights_only=True)``
reads (plain dicts, lists, str, numbers, tensors; pickle protocol 2).

RecBole's keys stay (``config``, ``epoch``, ``cur_step``, ``best_valid_score``, ``state_dict``,
``other_parameter``, ``optimizer``: RecBole's ``resume_checkpoint`` and ``evaluate`` read them),
but ``config`` is the run's final options as a plain dict (:func:`plain_options`) instead of the
pickled Config; :data:`CHECKPOINT_KEY` adds the serving entry (:func:`serving_entry`): the id
vocabularies of the user and item fields, each user's served sequence and seen items
(:func:`user_histories`), and the dataset-level artifacts that a plugin model's constructor reads
(HUGT's ``svd_item_embeddings``, HG-GNN's ``global_graph`` and ``graph_blocks``). The trainer
(:mod:`recbole_hug.trainer`) writes checkpoints; :mod:`recbole_hug.serve` and
:mod:`recbole_hug.quick_start` read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch
from recbole.utils import EvaluatorType, InputType, ModelType

from recbole_hug import registry
from recbole_hug.graph.global_graph import GlobalGraph

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
