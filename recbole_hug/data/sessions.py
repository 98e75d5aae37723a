"""Where sessions are cut: personalized sessions from a user's time-ordered interactions.

Pure functions on numpy arrays and pandas frames (no RecBole import), shared by the dataset
converters (``recbole_hug.data.convert``) and by HG-GNN's session data (Pang et al.,
Heterogeneous Global Graph Neural Networks for Personalized Session-based Recommendation,
WSDM 2022; section 3 defines a user's sessions, section 5.1.1 the preprocessing).

Pipeline (:func:`recbole_hug.data.session_split.build_personalized_sessions`, the official
HG-GNN order): :func:`cut_sessions` (time gap or session column) ->
:func:`remove_immediate_repeats` -> :func:`truncate_sessions` (first 20) ->
:func:`filter_sessions` (sessions >= 3, users >= 5 sessions) -> the split
(:mod:`recbole_hug.data.session_split`: each user's last 20%, or by time; unseen items dropped)
-> :func:`session_rows` (prefix of the last 10 items, target).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


def session_starts_by_gap(users: np.ndarray, timestamps: np.ndarray, gap: float) -> np.ndarray:
    """Mark the interactions that open a new session.

    A session ends where the user changes or where the time to the user's previous interaction is
    larger than ``gap`` (strictly). The arrays must already be sorted by user, then by time.

    Args:
        users: user ids, shape ``[N]``, grouped (all rows of a user contiguous).
        timestamps: times in seconds, shape ``[N]``, non-decreasing within each user.
        gap: the largest gap (seconds) that stays within one session; must be > 0.

    Returns:
        Boolean array, shape ``[N]``: True where a session starts (always True at row 0).

    Raises:
        ValueError: ``gap`` <= 0, arrays of different lengths, or times decreasing within a user.
    """
    if not gap > 0:
        raise ValueError(f"session_gap must be > 0 seconds, got {gap!r}")
    users = np.asarray(users)
    timestamps = np.asarray(timestamps, dtype=np.float64)
    if users.shape != timestamps.shape or users.ndim != 1:
        raise ValueError(
            f"users and timestamps must be 1-D arrays of one length, got {users.shape} and "
            f"{timestamps.shape}"
        )
    starts = np.ones(len(users), dtype=bool)
    if len(users) < 2:
        return starts
    same_user = users[1:] == users[:-1]
    delta = np.diff(timestamps)
    if np.any(same_user & (delta < 0)):
        row = int(np.flatnonzero(same_user & (delta < 0))[0]) + 1
        raise ValueError(
            f"timestamps must be sorted within each user: row {row} goes back in time "
            f"({timestamps[row - 1]} -> {timestamps[row]})"
        )
    starts[1:] = ~same_user | (delta > gap)
    return starts


def session_ids_by_gap(users: np.ndarray, timestamps: np.ndarray, gap: float) -> np.ndarray:
    """Number the sessions cut by :func:`session_starts_by_gap`, from 0, in row order.

    Returns:
        int64 array, shape ``[N]``: the session id of every interaction.
    """
    return np.cumsum(session_starts_by_gap(users, timestamps, gap), dtype=np.int64) - 1


# ---------------------------------------------------------------------------------------------
# Personalized sessions for HG-GNN (Pang et al., WSDM 2022, sections 3 and 5.1.1).
#
# The frames below all have the columns of ``SESSION_COLUMNS``: ``user``, ``item``, ``timestamp``
# and ``session`` (an int64 session id), one row per interaction, rows sorted by user, then by
# session (a user's sessions in chronological order), then by time. Session ids are numbered
# 0, 1, ... in that order by :func:`cut_sessions` and are never renumbered afterwards, so a
# session keeps its id through filtering and splitting.
# ---------------------------------------------------------------------------------------------

SESSION_COLUMNS: tuple[str, ...] = ("user", "item", "timestamp", "session")


def check_positive_int(value: int, name: str, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    return int(value)


def check_ratio(value: float, name: str, allow_zero: bool) -> float:
    low_ok = value >= 0 if allow_zero else value > 0
    if not (isinstance(value, (int, float, np.floating)) and low_ok and value < 1):
        bound = "0 <= x < 1" if allow_zero else "0 < x < 1"
        raise ValueError(f"{name} must be a fraction with {bound}, got {value!r}")
    return float(value)


def check_frame(frame: pd.DataFrame) -> None:
    missing = [c for c in SESSION_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"session frame lacks columns {missing}; expected {list(SESSION_COLUMNS)}")


def cut_sessions(
    frame: pd.DataFrame,
    *,
    session_gap: float | None = None,
    session_field: str | None = None,
    user_field: str = "user",
    item_field: str = "item",
    time_field: str = "timestamp",
) -> pd.DataFrame:
    """Cut every user's interactions into sessions, by time gap or by an existing session column.

    Exactly one of ``session_gap`` and ``session_field`` is given.

    * ``session_gap``: rows are sorted by (user, time) (stable, so equal times keep file order)
      and cut with :func:`session_starts_by_gap` (a gap strictly larger than ``session_gap``
      opens a session; Last.fm in the paper: 8 hours, Reddit: 60 minutes).
    * ``session_field``: a session is the set of rows sharing (user, session value): a session id
      reused by two users gives two sessions. A user's sessions are ordered by their first
      timestamp (ties: the session value), rows within a session by time (stable).

    Args:
        frame: interactions, ``N`` rows, with at least the user, item and time columns.
        session_gap: largest in-session gap in seconds (> 0).
        session_field: name of the session id column of ``frame``.
        user_field, item_field, time_field: column names in ``frame``.

    Returns:
        A new frame with exactly the columns ``user, item, timestamp, session`` (``N`` rows,
        index 0..N-1), sorted by user, session, time; ``session`` numbers the sessions 0..S-1 in
        that order.

    Raises:
        ValueError: both or neither of ``session_gap`` / ``session_field``, ``session_gap`` <= 0,
            a missing column, or an empty frame.
    """
    if (session_gap is None) == (session_field is None):
        raise ValueError("give exactly one of session_gap (time gap) or session_field (id column)")
    needed = [user_field, item_field, time_field] + ([session_field] if session_field else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"interaction frame lacks columns {missing}")
    if len(frame) == 0:
        raise ValueError("interaction frame is empty: no session can be cut")
    out = pd.DataFrame(
        {
            "user": frame[user_field].to_numpy(),
            "item": frame[item_field].to_numpy(),
            "timestamp": frame[time_field].to_numpy(dtype=np.float64),
        }
    )
    if session_gap is not None:
        if not session_gap > 0:
            raise ValueError(f"session_gap must be > 0 seconds, got {session_gap!r}")
        out = out.sort_values(["user", "timestamp"], kind="stable").reset_index(drop=True)
        out["session"] = session_ids_by_gap(
            out["user"].to_numpy(), out["timestamp"].to_numpy(), session_gap
        )
        return out
    out["_raw"] = frame[session_field].to_numpy()
    out = out.sort_values(["user", "_raw", "timestamp"], kind="stable")
    key = out.groupby(["user", "_raw"], sort=False).ngroup().to_numpy()
    out["_key"] = key
    first = out.groupby("_key")["timestamp"].transform("min")
    out["_first"] = first.to_numpy()
    out = out.sort_values(["user", "_first", "_raw", "timestamp"], kind="stable")
    starts = np.ones(len(out), dtype=bool)
    keys = out["_key"].to_numpy()
    starts[1:] = keys[1:] != keys[:-1]
    out["session"] = np.cumsum(starts, dtype=np.int64) - 1
    return out.drop(columns=["_raw", "_key", "_first"]).reset_index(drop=True)


def remove_immediate_repeats(sessions: pd.DataFrame) -> pd.DataFrame:
    """Drop an interaction that repeats the item just before it in the same session.

    ``a, a, b, a`` becomes ``a, b, a`` (only immediate repeats go; the official HG-GNN
    preprocessing, after LESSR). Runs once: it is applied right after cutting, before anything
    else removes rows.

    Args:
        sessions: a session frame (see ``SESSION_COLUMNS``), ``N`` rows.

    Returns:
        The kept rows (``<= N``), index reset, order unchanged.
    """
    check_frame(sessions)
    item = sessions["item"].to_numpy()
    sess = sessions["session"].to_numpy()
    keep = np.ones(len(sessions), dtype=bool)
    keep[1:] = (sess[1:] != sess[:-1]) | (item[1:] != item[:-1])
    return sessions[keep].reset_index(drop=True)


def truncate_sessions(sessions: pd.DataFrame, max_session_length: int = 20) -> pd.DataFrame:
    """Keep the FIRST ``max_session_length`` interactions of each session (paper: 20).

    The paper gives no rule; the official HG-GNN preprocessing (``truncate_long_sessions``,
    after LESSR) keeps the first 20 interactions of a time-sorted session (``cumcount < 20``), and
    we follow it: the tail of a very long session is dropped, not its head.

    Args:
        sessions: a session frame, ``N`` rows.
        max_session_length: largest kept session length (>= 1).

    Returns:
        The kept rows, index reset, order unchanged.

    Raises:
        ValueError: ``max_session_length`` < 1.
    """
    check_frame(sessions)
    max_session_length = check_positive_int(max_session_length, "max_session_length")
    position = sessions.groupby("session", sort=False).cumcount().to_numpy()
    return sessions[position < max_session_length].reset_index(drop=True)


def filter_sessions(
    sessions: pd.DataFrame, min_session_length: int = 3, min_user_sessions: int = 5
) -> pd.DataFrame:
    """Drop sessions shorter than ``min_session_length``, then users with too few sessions.

    Paper, section 5.1.1: sessions with fewer than 3 interactions go, and users keep only if they
    have 5 sessions or more (counted after the short sessions went). One pass reaches the fixed
    point: dropping whole users never shortens a session.

    Args:
        sessions: a session frame, ``N`` rows.
        min_session_length: least kept session length (>= 1; paper: 3).
        min_user_sessions: least number of kept sessions of a kept user (>= 1; paper: 5).

    Returns:
        The kept rows, index reset, order unchanged.

    Raises:
        ValueError: an option < 1, or no session / no user left (the message names the option).
    """
    check_frame(sessions)
    min_session_length = check_positive_int(min_session_length, "min_session_length")
    min_user_sessions = check_positive_int(min_user_sessions, "min_user_sessions")
    length = sessions.groupby("session", sort=False)["item"].transform("size").to_numpy()
    kept = sessions[length >= min_session_length]
    if len(kept) == 0:
        raise ValueError(f"min_session_length={min_session_length} leaves no session")
    n_sessions = kept.groupby("user", sort=False)["session"].transform("nunique").to_numpy()
    long_enough = kept
    kept = kept[n_sessions >= min_user_sessions]
    if len(kept) == 0:
        raise ValueError(
            f"min_user_sessions={min_user_sessions} leaves no user (after "
            f"min_session_length={min_session_length})"
        )
    _warn_dropped(
        "sessions",
        sessions["session"].nunique(),
        long_enough["session"].nunique(),
        f"shorter than {min_session_length} items (option 'min_session_length')",
    )
    _warn_dropped(
        "users",
        sessions["user"].nunique(),
        kept["user"].nunique(),
        f"with fewer than {min_user_sessions} sessions of that length (option 'min_user_sessions')",
    )
    return kept.reset_index(drop=True)


def _warn_dropped(what: str, before: int, after: int, why: str) -> None:
    """Warn that ``before - after`` of ``before`` users or sessions were dropped, and why."""
    if after < before:
        logger.warning(
            "session data: dropped %d of %d %s %s; %d kept",
            before - after,
            before,
            what,
            why,
            after,
        )


@dataclass(frozen=True)
class SessionRows:
    """(user, prefix, target) rows for the model, ``R`` of them.

    Attributes:
        user: int64 ``[R]``.
        prefix: int64 ``[R, max_prefix_length]``, the items before the target, oldest first,
            padded on the right with 0 (RecBole's layout).
        prefix_length: int64 ``[R]``, number of real items in ``prefix`` (>= 1).
        target: int64 ``[R]``, the item to predict.
        session: int64 ``[R]``, the session id the row comes from.
    """

    user: np.ndarray
    prefix: np.ndarray
    prefix_length: np.ndarray
    target: np.ndarray
    session: np.ndarray

    def __len__(self) -> int:
        return len(self.target)


def session_rows(sessions: pd.DataFrame, max_prefix_length: int = 10) -> SessionRows:
    """One row per position t >= 1 (0-based) of every session: predict item t from items < t.

    A session ``v_1 .. v_l`` (1-based, as in the paper) gives ``l - 1`` rows, targets
    ``v_2 .. v_l``: the target positions are 2..l (1-based), 1..l-1 (0-based), so every prefix has
    >= 1 item. The prefix is the last ``max_prefix_length`` items before the target (paper/official
    ``SEQ_LEN = 10``): items ``max(0, t - L) .. t - 1`` (0-based). Rows come in session order,
    then target position ascending. Sessions of length 1 give no row.

    Item and user values are copied as they are (the caller remaps them so 0 is padding).

    Args:
        sessions: a session frame (e.g. one part of a :class:`SessionSplit`), ``N`` rows.
        max_prefix_length: ``L``, the width of ``prefix`` (>= 1).

    Returns:
        :class:`SessionRows` with ``R = N - (number of sessions)`` rows.

    Raises:
        ValueError: ``max_prefix_length`` < 1.
    """
    check_frame(sessions)
    width = check_positive_int(max_prefix_length, "max_prefix_length")
    items = sessions["item"].to_numpy().astype(np.int64)
    users = sessions["user"].to_numpy().astype(np.int64)
    sess = sessions["session"].to_numpy().astype(np.int64)
    starts = np.ones(len(sess), dtype=bool)
    starts[1:] = sess[1:] != sess[:-1]
    start_of_row = np.maximum.accumulate(np.where(starts, np.arange(len(sess)), 0))
    rows = np.flatnonzero(~starts)  # target rows: position >= 1 in their session
    length = np.minimum(rows - start_of_row[rows], width)
    first = rows - length
    offsets = np.arange(width)
    take = first[:, None] + offsets[None, :]
    valid = offsets[None, :] < length[:, None]
    prefix = np.where(valid, items[np.where(valid, take, 0)], 0)
    return SessionRows(
        user=users[rows],
        prefix=prefix.astype(np.int64).reshape(len(rows), width),
        prefix_length=length.astype(np.int64),
        target=items[rows],
        session=sess[rows],
    )
