"""Hand-worked toy for recbole_hug.data.session_split: the split, unseen items, graph-only
sessions and the whole pipeline (the toy and its worked answers: tests/data/test_sessions.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recbole_hug.data.session_split import (
    SessionSplit,
    _last_sessions_count,
    build_personalized_sessions,
    drop_unseen_items,
    graph_only_sessions,
    split_by_time,
    split_by_user_ratio,
)
from tests.data.test_sessions import items_by_session, toy_filtered, toy_frame


def test_split_rounding() -> None:
    n = np.arange(1, 12)
    assert _last_sessions_count(n, 0.2).tolist() == [0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3]
    assert _last_sessions_count(n, 0.1).tolist() == [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]
    assert _last_sessions_count(n, 0.0).tolist() == [0] * 11


def test_split_by_user_ratio_toy() -> None:
    split = split_by_user_ratio(toy_filtered(), test_ratio=0.2, valid_ratio=0.1)
    assert sorted(items_by_session(split.train)) == [1, 2, 3, 6, 7, 8]
    assert sorted(items_by_session(split.valid)) == [4, 9]
    assert sorted(items_by_session(split.test)) == [5, 10, 11]
    no_valid = split_by_user_ratio(toy_filtered(), test_ratio=0.2, valid_ratio=0.0)
    assert sorted(items_by_session(no_valid.train)) == [1, 2, 3, 4, 6, 7, 8, 9]
    assert len(no_valid.valid) == 0


def test_split_by_time_toy() -> None:
    split = split_by_time(toy_filtered(), test_cut_time=4500, valid_ratio=0.1)
    assert sorted(items_by_session(split.test)) == [5, 11]
    assert sorted(items_by_session(split.valid)) == [4, 10]
    assert sorted(items_by_session(split.train)) == [1, 2, 3, 6, 7, 8, 9]
    # a session starting exactly at the cut is training: cut 3000 leaves s3, s9 (start 3000) in it
    at_cut = split_by_time(toy_filtered(), test_cut_time=3000, valid_ratio=0.0)
    assert sorted(items_by_session(at_cut.test)) == [4, 5, 10, 11]


def test_split_errors() -> None:
    sessions = toy_filtered()
    for bad in (0, 1, -0.1, 1.5):
        with pytest.raises(ValueError, match="test_ratio"):
            split_by_user_ratio(sessions, test_ratio=bad)
    with pytest.raises(ValueError, match="valid_ratio"):
        split_by_user_ratio(sessions, valid_ratio=1.0)
    one_each = sessions[sessions["session"].isin([1, 6])]
    with pytest.raises(ValueError, match="test_ratio"):
        split_by_user_ratio(one_each)
    with pytest.raises(ValueError, match="test_cut_time"):
        split_by_time(sessions, test_cut_time=5000)
    with pytest.raises(ValueError, match="test_cut_time"):
        split_by_time(sessions, test_cut_time=-1)


def test_graph_only_sessions_toy() -> None:
    # training sessions: user 1 s1, s2, s3; user 2 s6, s7, s8 (m = 3 each)
    train = split_by_user_ratio(toy_filtered()).train.sample(frac=1.0, random_state=1)
    assert sorted(graph_only_sessions(train, 0.5)) == [1, 2, 6, 7]  # ceil(1.5) = 2 each
    assert sorted(graph_only_sessions(train, 0.3)) == [1, 6]  # ceil(0.9) = 1
    assert sorted(graph_only_sessions(train, 0.9)) == [1, 2, 6, 7]  # at most m - 1
    assert len(graph_only_sessions(train, 0.0)) == 0
    one = train[train["session"] == 1]
    assert len(graph_only_sessions(one, 0.5)) == 0  # one session: kept for rows
    with pytest.raises(ValueError, match="graph_session_ratio"):
        graph_only_sessions(train, 1.0)


def test_drop_unseen_items_toy() -> None:
    split = drop_unseen_items(split_by_user_ratio(toy_filtered()))
    assert items_by_session(split.test) == {5: [2, 4], 10: [4, 5, 3], 11: [3, 1]}
    assert items_by_session(split.valid) == {4: [3, 4], 9: [2, 3, 1]}
    # min_length=3: the shortened sessions go
    strict = drop_unseen_items(split_by_user_ratio(toy_filtered()), min_length=3)
    assert items_by_session(strict.test) == {10: [4, 5, 3]}
    assert items_by_session(strict.valid) == {9: [2, 3, 1]}
    empty_test = SessionSplit(split.train, split.valid, split.test.assign(item=99))
    with pytest.raises(ValueError, match="min_length"):
        drop_unseen_items(empty_test)


def test_pipeline_toy() -> None:
    split = build_personalized_sessions(toy_frame(), session_gap=100)
    assert items_by_session(split.train) == {
        1: [1, 2, 3],
        2: [2, 3, 4, 5],
        3: [1, 3, 2],
        6: [2, 1, 3],
        7: [1, 2, 3],
        8: [5, 4, 3],
    }
    assert items_by_session(split.test) == {5: [2, 4], 10: [4, 5, 3], 11: [3, 1]}
    with pytest.raises(ValueError, match="split"):
        build_personalized_sessions(toy_frame(), session_gap=100, split="random")
    with pytest.raises(ValueError, match="test_cut_time"):
        build_personalized_sessions(toy_frame(), session_gap=100, split="time")


# --- rows --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=6), st.floats(0.05, 0.6))
def test_split_property(n_sessions: list[int], test_ratio: float) -> None:
    records = []
    k = 0
    for user, n in enumerate(n_sessions, start=1):
        for j in range(n):
            records += [(user, 1 + (k % 3), k, 100.0 * j), (user, 2, k, 100.0 * j + 1)]
            k += 1
    frame = pd.DataFrame(records, columns=["user", "item", "session", "timestamp"])
    if max(n_sessions) < 2:
        with pytest.raises(ValueError, match="test_ratio"):
            split_by_user_ratio(frame, test_ratio)
        return
    split = split_by_user_ratio(frame, test_ratio, 0.1)
    parts = [set(p["session"]) for p in (split.train, split.valid, split.test)]
    assert set.union(*parts) == set(frame["session"]) and sum(map(len, parts)) == k
    for user, n in enumerate(n_sessions, start=1):
        n_train = split.train.loc[split.train.user == user, "session"].nunique()
        n_test = split.test.loc[split.test.user == user, "session"].nunique()
        assert n_train >= 1
        assert n_test == (0 if n == 1 else max(1, min(n - 1, int(np.ceil(n * test_ratio - 1e-9)))))
        # test sessions are the user's last ones
        if n_test:
            user_test = split.test.loc[split.test.user == user, "session"]
            assert user_test.min() > split.train.loc[split.train.user == user, "session"].max()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=5), st.floats(0.0, 0.95))
def test_graph_only_sessions_property(n_sessions: list[int], ratio: float) -> None:
    records, k = [], 0
    for user, n in enumerate(n_sessions, start=1):
        for j in range(n):
            records += [(user, 1, k, 100.0 * j), (user, 2, k, 100.0 * j + 1)]
            k += 1
    frame = pd.DataFrame(records, columns=["user", "item", "session", "timestamp"])
    chosen = set(graph_only_sessions(frame.iloc[::-1], ratio).tolist())  # order must not matter
    for user, n in enumerate(n_sessions, start=1):
        own = frame.loc[frame.user == user].groupby("session")["timestamp"].min().sort_values()
        graph = [s for s in own.index if s in chosen]
        expected = 0 if n == 1 or ratio == 0 else min(n - 1, max(1, int(np.ceil(n * ratio - 1e-9))))
        assert len(graph) == expected
        assert graph == list(own.index[:expected])  # the user's earliest sessions
