"""Evaluation protocols: which rows train, which validate, which test, as pure functions.

``eval_protocol`` (``properties/overall.yaml``) selects the protocol of a sequential model:

- ``recbole``: RecBole's own split, as ``eval_args`` says (RecBole's default for sequential
  models: leave-one-out, each user's last interaction is test, the one before it validation).
- ``hugt``: the HUGT paper's protocol (section 5.2). Per user, the first ``protocol_train_ratio``
  (90%) of the interactions train and the rest are evaluated step by step: each target is
  predicted from its true prefix (all the user's earlier interactions, the last
  ``MAX_ITEM_LIST_LENGTH`` of them), then appended to it. A seeded ``protocol_valid_user_ratio``
  (30%) of the users are validated, the other users tested, with full ranking.

The HG-GNN paper's session protocol is ``session_rows: True`` (:mod:`recbole_hug.data.sessions`).

Rounding (see ``docs/protocols.md``): a user with ``n >= 2`` interactions trains on the first
``clip(floor(protocol_train_ratio * n), 1, n - 1)`` of them and evaluates the others (at least
one, at least one in training); a user with a single interaction only trains (it is no target).
Of the ``U`` users with evaluated interactions, ``clip(floor(protocol_valid_user_ratio * U +
1/2), 1, U - 1)`` are validated: the first ones of ``numpy.random.default_rng(seed)
.permutation(U)`` (users in stream order); the others are tested.

All arrays describe the interaction stream sorted by user, then time (each user's rows
contiguous), as in :mod:`recbole_hug.data.sequences`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from recbole.utils import ModelType

from recbole_hug.data.sequences import prefix_rows, user_starts
from recbole_hug.errors import ConfigError

#: RecBole's own split (``eval_args``), the default.
RECBOLE = "recbole"
#: The HUGT paper's protocol.
HUGT = "hugt"
#: The values of ``eval_protocol``.
EVAL_PROTOCOLS: tuple[str, ...] = (RECBOLE, HUGT)
#: The options of the ``hugt`` protocol that are fractions, ``0 < x < 1``.
RATIO_OPTIONS: tuple[str, ...] = ("protocol_train_ratio", "protocol_valid_user_ratio")

#: The part of a stream position or row.
TRAIN, VALID, TEST = 0, 1, 2

#: Slack for ``ratio * n`` products that are whole numbers in exact arithmetic (``0.9 * 70``
#: is ``63.00000000000001``, ``0.1 * 30`` is ``3.0000000000000004`` in floating point).
_EPSILON = 1e-9


def _check_ratio(name: str, ratio: float) -> None:
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio < 1:
        raise ValueError(f"{name} must be a fraction with 0 < x < 1, got {ratio!r}")


def train_lengths(lengths: np.ndarray, train_ratio: float) -> np.ndarray:
    """How many of each user's first interactions train: ``clip(floor(r * n), 1, n - 1)``.

    A user with ``n >= 2`` interactions keeps at least one in training and evaluates at least
    one (the evaluated share ``n - floor(r * n)`` is rounded up); a user with one interaction
    keeps it in training.

    Args:
        lengths: ``[U]`` interactions per user, each ``>= 1``.
        train_ratio: the training share ``r``, ``0 < r < 1``.

    Returns:
        ``[U]`` int64.
    """
    _check_ratio("train_ratio", train_ratio)
    lengths = np.asarray(lengths, dtype=np.int64)
    n_train = np.floor(train_ratio * lengths + _EPSILON).astype(np.int64)
    return np.maximum(np.minimum(n_train, lengths - 1), 1)


def draw_valid_users(n_users: int, valid_ratio: float, seed: int) -> np.ndarray:
    """Which of ``n_users`` users are validated (the others are tested): a seeded draw.

    The first ``clip(floor(valid_ratio * n_users + 1/2), 1, n_users - 1)`` users of
    ``numpy.random.default_rng(seed).permutation(n_users)`` are validated.

    Returns:
        ``[n_users]`` bool.

    Raises:
        ValueError: fewer than 2 users (validation and test each need one), or a bad ratio.
    """
    _check_ratio("valid_ratio", valid_ratio)
    if n_users < 2:
        raise ValueError(
            f"{n_users} user(s) with evaluated interactions; validation and test need one each"
        )
    n_valid = int(np.floor(valid_ratio * n_users + 0.5 + _EPSILON))
    n_valid = min(max(n_valid, 1), n_users - 1)
    is_valid = np.zeros(n_users, dtype=bool)
    is_valid[np.random.default_rng(seed).permutation(n_users)[:n_valid]] = True
    return is_valid


def stream_parts(
    users: np.ndarray, train_ratio: float, valid_ratio: float, seed: int
) -> np.ndarray:
    """The part of every interaction of the stream: ``TRAIN``, ``VALID`` or ``TEST``.

    Each user's first :func:`train_lengths` interactions are ``TRAIN``; the rest are ``VALID``
    for the users :func:`draw_valid_users` picks among those with evaluated interactions (in
    stream order), ``TEST`` for the others.

    Args:
        users: ``[N]`` user ids, each user's rows contiguous and in time order.
        train_ratio: the training share of each user's interactions.
        valid_ratio: the share of the evaluated users that are validated.
        seed: the seed of the user draw.

    Returns:
        ``[N]`` int8.

    Raises:
        ValueError: a ratio outside ``(0, 1)``, or fewer than 2 users with evaluated interactions.
    """
    users = np.asarray(users)
    start = user_starts(users)
    first = np.flatnonzero(start == np.arange(len(users)))
    lengths = np.diff(np.append(first, len(users)))
    n_train = train_lengths(lengths, train_ratio)
    evaluated_users = n_train < lengths
    is_valid = np.zeros(len(first), dtype=bool)
    is_valid[evaluated_users] = draw_valid_users(int(evaluated_users.sum()), valid_ratio, seed)
    owner = np.repeat(np.arange(len(first)), lengths)
    rank = np.arange(len(users)) - start
    part = np.where(is_valid[owner], VALID, TEST).astype(np.int8)
    part[rank < n_train[owner]] = TRAIN
    return part


@dataclass(frozen=True)
class ProtocolRows:
    """RecBole's augmented rows (one per interaction but a user's first), each with its part.

    Row ``r`` predicts ``stream[target[r]]`` from ``stream[target[r] - length[r] : target[r]]``
    (the true prefix, at most ``max_len`` items), in stream order.

    Attributes:
        target: ``[R]`` int64 stream positions of the targets.
        length: ``[R]`` int64 prefix lengths.
        part: ``[R]`` int8 ``TRAIN``, ``VALID`` or ``TEST`` (the part of the target).
    """

    target: np.ndarray
    length: np.ndarray
    part: np.ndarray


def protocol_rows(
    users: np.ndarray, max_len: int, train_ratio: float, valid_ratio: float, seed: int
) -> ProtocolRows:
    """The rows of the ``hugt`` protocol: every target with its true prefix and its part.

    Training rows are every prefix within the training part; every evaluated interaction is the
    target of one validation or test row whose prefix holds the earlier interactions, evaluated
    ones included. Arguments as :func:`stream_parts` and
    :func:`~recbole_hug.data.sequences.prefix_rows`.
    """
    target, length = prefix_rows(np.asarray(users), max_len)
    part = stream_parts(users, train_ratio, valid_ratio, seed)[target]
    return ProtocolRows(target=target, length=length, part=part)


def check_eval_protocol(config: Mapping[str, Any]) -> str:
    """The ``eval_protocol`` of a config, with its options checked; ``recbole`` when unset.

    Raises:
        ConfigError: an unknown protocol, the ``hugt`` protocol with a model that is not
            sequential, with ``session_rows``, with pre-split ``benchmark_filename`` files or with
            an ``eval_args`` mode other than ``full``, or a ratio outside ``(0, 1)``.
    """
    protocol = config["eval_protocol"] or RECBOLE
    if protocol not in EVAL_PROTOCOLS:
        raise ConfigError(
            f"option 'eval_protocol' must be one of {', '.join(EVAL_PROTOCOLS)}, got {protocol!r}"
        )
    if protocol == RECBOLE:
        return protocol
    if config["MODEL_TYPE"] != ModelType.SEQUENTIAL:
        raise ConfigError(
            f"option 'eval_protocol: {protocol}' needs a sequential model; model "
            f"'{config['model']}' is of type {config['MODEL_TYPE'].name} (use eval_protocol: "
            f"{RECBOLE} and eval_args for it)"
        )
    if config["session_rows"]:
        raise ConfigError(
            f"options 'eval_protocol: {protocol}' and 'session_rows: True' are two different "
            "protocols; choose one"
        )
    if config["benchmark_filename"] is not None:
        raise ConfigError(
            f"option 'eval_protocol: {protocol}' splits each user's sequence itself; pre-split "
            "files (option 'benchmark_filename') cannot be used with it"
        )
    mode = config["eval_args"]["mode"]
    if any(value != "full" for value in mode.values()):
        raise ConfigError(
            f"option 'eval_protocol: {protocol}' ranks all items: option 'eval_args' must have "
            f"mode 'full', got {mode}"
        )
    for name in RATIO_OPTIONS:
        try:
            _check_ratio(f"option '{name}'", config[name])
        except ValueError as error:
            raise ConfigError(f"{error} (eval_protocol: {protocol})") from error
    return protocol
