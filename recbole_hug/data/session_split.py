"""Where sessions are split: train, validation and test sessions, and the whole pipeline.

Pure functions on pandas frames of sessions (the ``SESSION_COLUMNS`` of
:mod:`recbole_hug.data.sessions`; no RecBole import), for HG-GNN's session data (Pang et al.,
WSDM 2022, section 5.1.1): :func:`split_by_user_ratio` (each user's last 20% of sessions test,
the last 10% of the rest validation) or :func:`split_by_time`, :func:`drop_unseen_items`,
:func:`graph_only_sessions`, and :func:`build_personalized_sessions`, the official order of every
step from raw interactions to the split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recbole_hug.data.sessions import (
    check_frame,
    check_positive_int,
    check_ratio,
    cut_sessions,
    filter_sessions,
    remove_immediate_repeats,
    truncate_sessions,
)


@dataclass(frozen=True)
class SessionSplit:
    """Train / validation / test session frames (each with the ``SESSION_COLUMNS``).

    Every session lies wholly in one part; session ids are those of the input frame.
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


def _last_sessions_count(n: np.ndarray, ratio: float) -> np.ndarray:
    """``ceil(n * ratio)`` (float noise removed), at least 1 when ratio > 0, at most ``n - 1``."""
    if ratio == 0:
        return np.zeros_like(n)
    count = np.ceil(n * ratio - 1e-9).astype(np.int64)
    return np.clip(count, 1, np.maximum(n - 1, 0))


def _session_table(sessions: pd.DataFrame) -> pd.DataFrame:
    """One row per session, in frame order: ``session, user, start``."""
    return (
        sessions.groupby("session", sort=False)
        .agg(user=("user", "first"), start=("timestamp", "min"))
        .reset_index()
    )


def _carve_last(table: pd.DataFrame, ratio: float) -> np.ndarray:
    """Mark each user's last ``_last_sessions_count`` sessions of ``table`` (in table order)."""
    n = table.groupby("user", sort=False)["session"].transform("size").to_numpy()
    rank_from_end = table.groupby("user", sort=False).cumcount(ascending=False).to_numpy()
    return rank_from_end < _last_sessions_count(n, ratio)


def _make_split(sessions: pd.DataFrame, test_ids: np.ndarray, valid_ratio: float) -> SessionSplit:
    is_test = sessions["session"].isin(test_ids).to_numpy()
    train_table = _session_table(sessions[~is_test])
    valid_ids = train_table["session"].to_numpy()[_carve_last(train_table, valid_ratio)]
    is_valid = sessions["session"].isin(valid_ids).to_numpy()
    return SessionSplit(
        train=sessions[~is_test & ~is_valid].reset_index(drop=True),
        valid=sessions[is_valid].reset_index(drop=True),
        test=sessions[is_test].reset_index(drop=True),
    )


def split_by_user_ratio(
    sessions: pd.DataFrame, test_ratio: float = 0.2, valid_ratio: float = 0.1
) -> SessionSplit:
    """Paper split (``split: user_ratio``): each user's last sessions are test, then validation.

    Test: each user's last ``n_test = ceil(n * test_ratio)`` sessions, clipped to
    ``1 <= n_test <= n - 1`` (a user keeps >= 1 training session; a user with a single session
    has no test session). With ``test_ratio = 0.2``: n = 5 -> 1, n = 6..10 -> 2, n = 11..15 -> 3.
    Ceil, not floor or round: it gives every user >= 1 test session, and it matches Table 1 of
    the paper (Xing, ~8 sessions per user, has 24.6% test sessions; floor would give <= 20%).

    Validation (the paper reports none; it tunes on "10% of training data"): carved from each
    user's remaining (training) sessions by the same rule with ``valid_ratio``: the last
    ``ceil(m * valid_ratio)`` of the user's m training sessions, clipped to ``<= m - 1``. Taking
    the last ones keeps validation after training in time, as test is, so model selection sees
    the same "predict the next sessions" task; ``valid_ratio = 0`` gives no validation.

    Args:
        sessions: a session frame (filtered), ``N`` rows.
        test_ratio: fraction of each user's sessions held out as test, ``0 < x < 1``.
        valid_ratio: fraction of each user's training sessions used for validation, ``0 <= x < 1``.

    Returns:
        A :class:`SessionSplit`.

    Raises:
        ValueError: a ratio out of range, or no test session (every user has a single session).
    """
    check_frame(sessions)
    test_ratio = check_ratio(test_ratio, "test_ratio", allow_zero=False)
    valid_ratio = check_ratio(valid_ratio, "valid_ratio", allow_zero=True)
    table = _session_table(sessions)
    test_ids = table["session"].to_numpy()[_carve_last(table, test_ratio)]
    if len(test_ids) == 0:
        raise ValueError(f"test_ratio={test_ratio} gives no test session (no user has 2 sessions)")
    return _make_split(sessions, test_ids, valid_ratio)


def split_by_time(
    sessions: pd.DataFrame, test_cut_time: float, valid_ratio: float = 0.1
) -> SessionSplit:
    """Global time split (the official HG-GNN code): sessions starting after a cut are test.

    A session is test when its first timestamp is strictly after ``test_cut_time``; it is never
    split in two. (The official code cuts by session END time at the 80% quantile; we cut by start
    time so no test session begins before the cut.) Validation is carved from each user's
    training sessions as in :func:`split_by_user_ratio`. A user whose sessions all start after
    the cut has test sessions but no training session; such users are kept.

    Args:
        sessions: a session frame, ``N`` rows.
        test_cut_time: the cut, in the unit of ``timestamp``.
        valid_ratio: as in :func:`split_by_user_ratio`.

    Returns:
        A :class:`SessionSplit`.

    Raises:
        ValueError: no session starts after the cut, or none before it (names ``test_cut_time``).
    """
    check_frame(sessions)
    valid_ratio = check_ratio(valid_ratio, "valid_ratio", allow_zero=True)
    table = _session_table(sessions)
    is_test = table["start"].to_numpy() > test_cut_time
    if not is_test.any():
        raise ValueError(f"test_cut_time={test_cut_time!r}: no session starts after it")
    if is_test.all():
        raise ValueError(f"test_cut_time={test_cut_time!r}: no training session starts before it")
    return _make_split(sessions, table["session"].to_numpy()[is_test], valid_ratio)


def drop_unseen_items(split: SessionSplit, min_length: int = 2) -> SessionSplit:
    """Drop validation/test interactions whose item never occurs in TRAINING sessions.

    Paper: "we filtered out the interactions from the test set where the items do not appear in
    the training set". Precisely: (1) every validation or test interaction whose item is not an
    item of ``split.train`` is removed (its neighbours become adjacent, as in the official code);
    (2) validation/test sessions left shorter than ``min_length`` are dropped. The default 2 is
    the official code's re-filter (``filter_short_sessions`` with ``min_len=2``): the shortest
    session that still yields one (prefix, target) row; the paper's "< 3" filter is applied
    before the split (:func:`filter_sessions`) and not again. Training is unchanged, so the
    global graph and the item vocabulary do not depend on this step. Removing an item may leave
    two equal items adjacent (a, x, a -> a, a); they are kept.

    Args:
        split: a :class:`SessionSplit`.
        min_length: least length of a kept validation/test session (>= 1).

    Returns:
        A new :class:`SessionSplit`.

    Raises:
        ValueError: ``min_length`` < 1, or no test session left (names ``min_length``).
    """
    min_length = check_positive_int(min_length, "min_length")
    seen = pd.unique(split.train["item"])

    def clean(part: pd.DataFrame) -> pd.DataFrame:
        part = part[part["item"].isin(seen).to_numpy()]
        length = part.groupby("session", sort=False)["item"].transform("size").to_numpy()
        return part[length >= min_length].reset_index(drop=True)

    test = clean(split.test)
    if len(test) == 0:
        raise ValueError(
            f"no test session left after dropping items unseen in training "
            f"(min_length={min_length})"
        )
    return SessionSplit(train=split.train, valid=clean(split.valid), test=test)


def graph_only_sessions(train: pd.DataFrame, ratio: float) -> np.ndarray:
    """Ids of each user's earliest training sessions that only build the global graph.

    Not in the paper (which builds the graph from every training session and trains on every
    training session): with ``ratio > 0``, each user's first ``ceil(m * ratio)`` of its ``m``
    training sessions (by start time; clipped to ``1 <= x <= m - 1``, so a user with one training
    session keeps it for rows) build the graph and give no training rows, and the later ones give
    rows and no edges. A training row's target then never reaches the graph through the row's own
    session, as no validation or test target does (``BENCHMARKS.md``, HG-GNN).

    Args:
        train: the training session frame, ``N`` rows.
        ratio: the share of each user's training sessions for the graph only, ``0 <= x < 1``;
            0 = none (the paper).

    Returns:
        ``[G]`` session ids, in frame order of the sessions' first rows.

    Raises:
        ValueError: ``ratio`` out of range (names ``graph_session_ratio``).
    """
    check_frame(train)
    ratio = check_ratio(ratio, "graph_session_ratio", allow_zero=True)
    latest_first = _session_table(train).sort_values(["user", "start"], kind="stable")[::-1]
    chosen = latest_first["session"].to_numpy()[_carve_last(latest_first, ratio)]
    ids = pd.unique(train["session"].to_numpy())
    return ids[np.isin(ids, chosen)]


def build_personalized_sessions(
    frame: pd.DataFrame,
    *,
    session_gap: float | None = None,
    session_field: str | None = None,
    remove_repeats: bool = True,
    max_session_length: int = 20,
    min_session_length: int = 3,
    min_user_sessions: int = 5,
    split: str = "user_ratio",
    test_ratio: float = 0.2,
    test_cut_time: float | None = None,
    valid_ratio: float = 0.1,
    user_field: str = "user",
    item_field: str = "item",
    time_field: str = "timestamp",
) -> SessionSplit:
    """The whole preprocessing, in the official order.

    cut (:func:`cut_sessions`) -> remove immediate repeats (optional) -> truncate to the first
    ``max_session_length`` -> filter short sessions, then light users -> split (``"user_ratio"``:
    :func:`split_by_user_ratio`; ``"time"``: :func:`split_by_time` at ``test_cut_time``) ->
    drop validation/test items unseen in training (:func:`drop_unseen_items`).

    Raises:
        ValueError: an unknown ``split``, ``split="time"`` without ``test_cut_time``, or any
            error of the steps.
    """
    sessions = cut_sessions(
        frame,
        session_gap=session_gap,
        session_field=session_field,
        user_field=user_field,
        item_field=item_field,
        time_field=time_field,
    )
    if remove_repeats:
        sessions = remove_immediate_repeats(sessions)
    sessions = truncate_sessions(sessions, max_session_length)
    sessions = filter_sessions(sessions, min_session_length, min_user_sessions)
    if split == "user_ratio":
        parts = split_by_user_ratio(sessions, test_ratio, valid_ratio)
    elif split == "time":
        if test_cut_time is None:
            raise ValueError('split="time" needs test_cut_time')
        parts = split_by_time(sessions, test_cut_time, valid_ratio)
    else:
        raise ValueError(f'split must be "user_ratio" or "time", got {split!r}')
    return drop_unseen_items(parts)
