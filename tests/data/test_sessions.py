"""Hand-worked toy for recbole_hug.data.sessions (every expected value worked out by hand; the
split's tests, on the same toy: tests/data/test_session_split.py).

Toy (gap 100 s; users 1-3, items 1-9; ``s<k>`` = session id after cutting):

user 1: s0 [1,1,2] t=0   s1 [1,2,3] t=1000   s2 [2,3,4,5] t=2000   s3 [1,3,2] t=3000
        s4 [3,4,6] t=4000   s5 [2,4,9] t=5000
user 2: s6 [2,1,3] t=0   s7 [1,2,3] t=1000   s8 [5,4,3] t=2000   s9 [2,3,1] t=3000
        s10 [4,5,3] t=4000   s11 [3,7,1] t=5000
user 3: s12 [8,6,8] t=0   s13 [8,6] t=1000   s14 [6,8,6] t=2000   s15 [8,6,8] t=3000

Repeat removal: s0 -> [1,2] (length 2). Filter (3, 5): s0 and s13 go (length 2); user 3 keeps 3
sessions < 5 and goes. Per-user split (0.2 / 0.1, ceil): user 1 has 5 sessions -> test s5, then
4 training -> valid ceil(0.4)=1 = s4; user 2 has 6 -> test ceil(1.2)=2 = s10, s11, then 4
training -> valid s9. Unseen items (train items: 1..5): s5 [2,4,9] -> [2,4], s11 [3,7,1] ->
[3,1], s4 [3,4,6] -> [3,4].
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recbole_hug.data.session_split import build_personalized_sessions
from recbole_hug.data.sessions import (
    cut_sessions,
    filter_sessions,
    remove_immediate_repeats,
    session_ids_by_gap,
    session_rows,
    session_starts_by_gap,
    truncate_sessions,
)

TOY_SESSIONS = {
    1: [[1, 1, 2], [1, 2, 3], [2, 3, 4, 5], [1, 3, 2], [3, 4, 6], [2, 4, 9]],
    2: [[2, 1, 3], [1, 2, 3], [5, 4, 3], [2, 3, 1], [4, 5, 3], [3, 7, 1]],
    3: [[8, 6, 8], [8, 6], [6, 8, 6], [8, 6, 8]],
}


def toy_frame() -> pd.DataFrame:
    rows = []
    for user, sessions in TOY_SESSIONS.items():
        for k, items in enumerate(sessions):
            for i, item in enumerate(items):
                rows.append((user, item, 1000 * k + 10 * i))
    frame = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)  # order must not matter


def toy_filtered() -> pd.DataFrame:
    sessions = remove_immediate_repeats(cut_sessions(toy_frame(), session_gap=100))
    return filter_sessions(truncate_sessions(sessions, 20), 3, 5)


def items_by_session(frame: pd.DataFrame) -> dict[int, list[int]]:
    return {int(k): g["item"].tolist() for k, g in frame.groupby("session", sort=False)}


# --- the existing gap functions ----------------------------------------------------------------


def test_gap_functions_unchanged() -> None:
    users = np.array([1, 1, 1, 2])
    times = np.array([0, 5, 20, 21])
    assert session_starts_by_gap(users, times, 10).tolist() == [True, False, True, True]
    assert session_ids_by_gap(users, times, 10).tolist() == [0, 0, 1, 2]
    with pytest.raises(ValueError, match="session_gap"):
        session_starts_by_gap(users, times, 0)


# --- cutting -----------------------------------------------------------------------------------


def test_cut_by_gap_toy() -> None:
    sessions = cut_sessions(toy_frame(), session_gap=100)
    assert list(sessions.columns) == ["user", "item", "timestamp", "session"]
    assert items_by_session(sessions) == {
        k: items for k, items in enumerate([s for user in (1, 2, 3) for s in TOY_SESSIONS[user]])
    }
    assert sessions.groupby("session")["user"].first().tolist() == [1] * 6 + [2] * 6 + [3] * 4


def interleaved_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uid": [2, 1, 1, 1, 2, 1],
            "iid": [5, 1, 2, 3, 6, 4],
            "ts": [30, 10, 5, 12, 20, 6],
            "sid": ["b", "x", "y", "x", "x", "y"],
        }
    )


def test_cut_by_session_column() -> None:
    # user 1: "y" starts at 5 -> [2, 4], "x" at 10 -> [1, 3]; user 2: "x" (20) -> [6], "b" -> [5]
    # ("x" of user 2 is another session than "x" of user 1).
    out = cut_sessions(
        interleaved_frame(),
        session_field="sid",
        user_field="uid",
        item_field="iid",
        time_field="ts",
    )
    assert out["user"].tolist() == [1, 1, 1, 1, 2, 2]
    assert out["item"].tolist() == [2, 4, 1, 3, 6, 5]
    assert out["timestamp"].tolist() == [5, 6, 10, 12, 20, 30]
    assert out["session"].tolist() == [0, 0, 1, 1, 2, 3]


def test_cut_by_gap_sorts_and_cuts() -> None:
    kwargs = {"user_field": "uid", "item_field": "iid", "time_field": "ts"}
    # user 1 times 5, 6, 10, 12 (gaps 1, 4, 2); user 2 times 20, 30 (gap 10)
    out = cut_sessions(interleaved_frame(), session_gap=3, **kwargs)
    assert out["item"].tolist() == [2, 4, 1, 3, 6, 5]
    assert out["session"].tolist() == [0, 0, 1, 1, 2, 3]
    assert cut_sessions(interleaved_frame(), session_gap=5, **kwargs)["session"].tolist() == [
        0,
        0,
        0,
        0,
        1,
        2,
    ]


def test_cut_errors() -> None:
    frame = toy_frame()
    with pytest.raises(ValueError, match="session_gap"):
        cut_sessions(frame, session_gap=0)
    with pytest.raises(ValueError, match="exactly one"):
        cut_sessions(frame)
    with pytest.raises(ValueError, match="exactly one"):
        cut_sessions(frame, session_gap=1, session_field="user")
    with pytest.raises(ValueError, match="lacks columns"):
        cut_sessions(frame, session_field="sid")


# --- repeats, truncation, filters ---------------------------------------------------------------


def test_remove_immediate_repeats() -> None:
    frame = pd.DataFrame(
        {
            "user": [1] * 7,
            "item": [1, 1, 2, 1, 1, 1, 3],
            "timestamp": range(7),
            "session": [0, 0, 0, 0, 1, 1, 1],  # the 1 at row 4 opens a new session: kept
        }
    )
    out = remove_immediate_repeats(frame)
    assert out["item"].tolist() == [1, 2, 1, 1, 3]
    assert out["session"].tolist() == [0, 0, 0, 1, 1]


def test_truncate_keeps_first() -> None:
    frame = pd.DataFrame(
        {"user": [1] * 7, "item": [1, 2, 3, 4, 5, 7, 8], "timestamp": range(7)}
    ).assign(session=[0, 0, 0, 0, 0, 1, 1])
    out = truncate_sessions(frame, 3)
    assert out["item"].tolist() == [1, 2, 3, 7, 8]
    with pytest.raises(ValueError, match="max_session_length"):
        truncate_sessions(frame, 0)


def test_filter_toy() -> None:
    sessions = remove_immediate_repeats(cut_sessions(toy_frame(), session_gap=100))
    assert items_by_session(sessions)[0] == [1, 2]
    kept = filter_sessions(sessions, 3, 5)
    assert sorted(items_by_session(kept)) == list(range(1, 12))
    assert set(kept["user"]) == {1, 2}
    # with min_user_sessions=3 user 3 stays (3 sessions of length >= 3)
    assert set(filter_sessions(sessions, 3, 3)["user"]) == {1, 2, 3}
    with pytest.raises(ValueError, match="min_session_length"):
        filter_sessions(sessions, 5, 1)
    with pytest.raises(ValueError, match="min_user_sessions"):
        filter_sessions(sessions, 3, 7)  # user 2 has 6
    with pytest.raises(ValueError, match="min_user_sessions"):
        filter_sessions(sessions, 3, 0)


def test_filter_warns_how_many_were_dropped_and_which_option_controls_it(caplog) -> None:
    sessions = remove_immediate_repeats(cut_sessions(toy_frame(), session_gap=100))
    with caplog.at_level("WARNING", logger="recbole_hug.data.sessions"):
        filter_sessions(sessions, 3, 5)
    assert [record.getMessage() for record in caplog.records] == [
        "session data: dropped 2 of 16 sessions shorter than 3 items (option "
        "'min_session_length'); 14 kept",
        "session data: dropped 1 of 3 users with fewer than 5 sessions of that length (option "
        "'min_user_sessions'); 2 kept",
    ]
    caplog.clear()
    with caplog.at_level("WARNING", logger="recbole_hug.data.sessions"):
        filter_sessions(sessions, 1, 1)  # nothing dropped: no warning
    assert not caplog.records


# --- splits ------------------------------------------------------------------------------------


def test_rows_toy() -> None:
    split = build_personalized_sessions(toy_frame(), session_gap=100)
    rows = session_rows(split.test, max_prefix_length=2)
    assert len(rows) == 4
    assert rows.user.tolist() == [1, 2, 2, 2]
    assert rows.prefix.tolist() == [[2, 0], [4, 0], [4, 5], [3, 0]]
    assert rows.prefix_length.tolist() == [1, 1, 2, 1]
    assert rows.target.tolist() == [4, 5, 3, 1]
    assert rows.session.tolist() == [5, 10, 10, 11]
    train = session_rows(split.train, max_prefix_length=2)
    assert len(train) == 13  # 2 + 3 + 2 + 2 + 2 + 2
    # session 2 = [2, 3, 4, 5]: its last row keeps the last 2 items before the target
    s2 = train.session == 2
    assert train.prefix[s2].tolist() == [[2, 0], [2, 3], [3, 4]]
    assert train.target[s2].tolist() == [3, 4, 5]
    wide = session_rows(split.train, max_prefix_length=10)
    assert wide.prefix.shape == (13, 10)
    assert wide.prefix[s2][2].tolist() == [2, 3, 4, 0, 0, 0, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="max_prefix_length"):
        session_rows(split.train, 0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 3), st.lists(st.integers(1, 6), min_size=1, max_size=8)),
        min_size=1,
        max_size=8,
    ),
    st.integers(1, 4),
)
def test_rows_property(sessions: list[tuple[int, list[int]]], width: int) -> None:
    records = [(u, item, k, 0.0) for k, (u, items) in enumerate(sessions) for item in items]
    frame = pd.DataFrame(records, columns=["user", "item", "session", "timestamp"])
    rows = session_rows(frame, max_prefix_length=width)
    assert len(rows) == sum(len(items) - 1 for _, items in sessions)
    seen = 0
    for r in range(len(rows)):
        user, items = sessions[rows.session[r]]
        n = int(rows.prefix_length[r])
        prefix = rows.prefix[r, :n].tolist()
        assert rows.user[r] == user
        assert 1 <= n <= width and (rows.prefix[r, n:] == 0).all()
        # the target follows its prefix in its session
        t = next(
            t
            for t in range(1, len(items))
            if items[t] == rows.target[r] and items[max(0, t - width) : t] == prefix
        )
        assert t >= 1
        seen += 1
    assert seen == len(rows)
