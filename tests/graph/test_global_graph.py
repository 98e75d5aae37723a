"""Hand-worked toy for recbole_hug.graph.global_graph.

Training sessions of the sessions toy (tests/data/test_sessions.py), built through its split:

user 1: s1 [1,2,3]  s2 [2,3,4,5]  s3 [1,3,2]
user 2: s6 [2,1,3]  s7 [1,2,3]    s8 [5,4,3]

Transition counts a -> b: 1->2: 2, 2->3: 3, 3->4: 1, 4->5: 1, 1->3: 2, 3->2: 1, 2->1: 1,
5->4: 1, 4->3: 1.
out (v -> followers, weight desc, id asc): 1: 2(2) 3(2) [tie]; 2: 3(3) 1(1); 3: 2(1) 4(1) [tie];
4: 3(1) 5(1); 5: 4(1).
in (v -> predecessors): 1: 2(1); 2: 1(2) 3(1); 3: 2(3) 1(2) 4(1); 4: 3(1) 5(1); 5: 4(1).

Eq. 1: session item sets {1,2,3} x4 (size 3), {2,3,4,5} (size 4), {3,4,5} (size 3);
|N(1)|=4, |N(2)|=5, |N(3)|=6, |N(4)|=|N(5)|=2.
f(1,2) = (4/3)/sqrt(20)      f(1,3) = (4/3)/sqrt(24)      f(2,3) = (4/3 + 1/4)/sqrt(30)
f(2,4) = f(2,5) = (1/4)/sqrt(10)   f(3,4) = f(3,5) = (1/4 + 1/3)/sqrt(12)
f(4,5) = (1/4 + 1/3)/sqrt(4) = 7/24;   f(1,4) = f(1,5) = 0.

Validation item 6 (s4 [3,4,6]) and test items 7, 9 never reach the graph.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recbole_hug.data.session_split import build_personalized_sessions
from recbole_hug.graph.global_graph import (
    EDGE_TYPES,
    GlobalGraph,
    build_global_graph,
    cooccurrence_scores,
    edge_matrix,
    keep_top_per_node,
    similar_edges,
    transition_counts,
)
from tests.data.test_sessions import toy_frame

N_USERS, N_ITEMS = 4, 10


def toy_train() -> pd.DataFrame:
    return build_personalized_sessions(toy_frame(), session_gap=100).train


def toy_graph(s: int = 12, k: int = 20) -> GlobalGraph:
    train = toy_train()
    return build_global_graph(
        train["session"].to_numpy(),
        train["user"].to_numpy(),
        train["item"].to_numpy(),
        n_users=N_USERS,
        n_items=N_ITEMS,
        transition_top_s=s,
        similar_top_k=k,
    )


def triples(graph: GlobalGraph, edge_type: str) -> list[tuple[int, int, float]]:
    src, dst, w = graph.edge(edge_type)
    return [(int(a), int(b), float(c)) for a, b, c in zip(src, dst, w, strict=True)]


def test_transition_counts_toy() -> None:
    train = toy_train()
    a, b, c = transition_counts(train["session"].to_numpy(), train["item"].to_numpy())
    assert list(zip(a.tolist(), b.tolist(), c.tolist(), strict=True)) == [
        (1, 2, 2.0),
        (1, 3, 2.0),
        (2, 1, 1.0),
        (2, 3, 3.0),
        (3, 2, 1.0),
        (3, 4, 1.0),
        (4, 3, 1.0),
        (4, 5, 1.0),
        (5, 4, 1.0),
    ]
    # self transitions (kept repeats) are skipped; a session boundary is no transition
    a, b, c = transition_counts(np.array([0, 0, 0, 1]), np.array([7, 7, 8, 9]))
    assert (a.tolist(), b.tolist(), c.tolist()) == ([7], [8], [1.0])


def test_in_out_full() -> None:
    graph = toy_graph(s=12)
    assert triples(graph, "out") == [
        (1, 2, 2.0),
        (1, 3, 2.0),
        (2, 3, 3.0),
        (2, 1, 1.0),
        (3, 2, 1.0),
        (3, 4, 1.0),
        (4, 3, 1.0),
        (4, 5, 1.0),
        (5, 4, 1.0),
    ]
    assert triples(graph, "in") == [
        (1, 2, 1.0),
        (2, 1, 2.0),
        (2, 3, 1.0),
        (3, 2, 3.0),
        (3, 1, 2.0),
        (3, 4, 1.0),
        (4, 3, 1.0),
        (4, 5, 1.0),
        (5, 4, 1.0),
    ]


def test_in_out_top_s_with_ties() -> None:
    graph = toy_graph(s=1)
    # 1: 2 and 3 tie at 2 -> 2 (smaller id); 3: 2 and 4 tie at 1 -> 2; 4: 3 and 5 tie -> 3
    assert triples(graph, "out") == [
        (1, 2, 2.0),
        (2, 3, 3.0),
        (3, 2, 1.0),
        (4, 3, 1.0),
        (5, 4, 1.0),
    ]
    assert triples(graph, "in") == [(1, 2, 1.0), (2, 1, 2.0), (3, 2, 3.0), (4, 3, 1.0), (5, 4, 1.0)]
    graph2 = toy_graph(s=2)
    assert [(a, b) for a, b, _ in triples(graph2, "in") if a == 3] == [(3, 2), (3, 1)]  # 4 cut


def test_cooccurrence_eq1_toy() -> None:
    train = toy_train()
    scores = cooccurrence_scores(train["session"].to_numpy(), train["item"].to_numpy(), N_ITEMS)
    dense = scores.toarray()
    expected = {
        (1, 2): (4 / 3) / math.sqrt(20),
        (1, 3): (4 / 3) / math.sqrt(24),
        (2, 3): (4 / 3 + 1 / 4) / math.sqrt(30),
        (2, 4): (1 / 4) / math.sqrt(10),
        (2, 5): (1 / 4) / math.sqrt(10),
        (3, 4): (1 / 4 + 1 / 3) / math.sqrt(12),
        (3, 5): (1 / 4 + 1 / 3) / math.sqrt(12),
        (4, 5): 7 / 24,
    }
    want = np.zeros((N_ITEMS, N_ITEMS))
    for (i, j), value in expected.items():
        want[i, j] = want[j, i] = value
    np.testing.assert_allclose(dense, want, rtol=1e-12, atol=0)
    # repeats inside a session count once: |N(s)| is the number of distinct items
    twice = cooccurrence_scores(np.array([0, 0, 0]), np.array([1, 2, 1]), 3).toarray()
    np.testing.assert_allclose(twice[1, 2], (1 / 2) / math.sqrt(1 * 1))


def test_similar_toy() -> None:
    # defaults (S=12, K=20): every top-K' candidate is already an in/out neighbour -> none.
    assert triples(toy_graph(), "similar") == []
    # S=1: N_4 = {3} -> K'_4 = 1 -> top-1 of 4 is 5 (7/24), not an in/out neighbour of 4 -> kept.
    # N_1 = {2}: top-1 is 2 -> dropped; N_3 = {2}: top-1 2 -> dropped; N_5 = {4}: 4 -> dropped;
    # N_2 = {1, 3}: top-2 = 1, 3 -> dropped.
    for k in (1, 2):
        [(src, dst, weight)] = triples(toy_graph(s=1, k=k), "similar")
        assert (src, dst) == (4, 5) and weight == pytest.approx(7 / 24, rel=1e-12)


def test_similar_top_k_cut() -> None:
    train = toy_train()
    scores = cooccurrence_scores(train["session"].to_numpy(), train["item"].to_numpy(), N_ITEMS)
    f23 = (4 / 3 + 1 / 4) / math.sqrt(30)
    f34 = (1 / 4 + 1 / 3) / math.sqrt(12)
    # item 3 ranks 2 (0.289), 1 (0.272), 4 (0.168), 5 (0.168, tie with 4 -> after 4), 2 (0.079)
    # N_3 = {1}: K'=min(2, 1)=1 -> [2] -> kept
    src, dst, w = similar_edges(scores, np.array([3]), np.array([1]), N_ITEMS, 2)
    assert (src.tolist(), dst.tolist()) == ([3], [2])
    np.testing.assert_allclose(w, [f23])
    # N_3 = {1, 4, 6}: K' = 3 -> [2, 1, 4] -> 1 and 4 dropped -> [2]
    src, dst, _ = similar_edges(scores, np.array([3, 3, 3]), np.array([1, 4, 6]), N_ITEMS, 5)
    assert dst.tolist() == [2]
    # N_3 = {6, 7, 8, 9}: K = 4 -> [2, 1, 4, 5]; the 4/5 tie resolved by id, K = 3 -> [2, 1, 4]
    nb = np.array([6, 7, 8, 9])
    assert similar_edges(scores, np.full(4, 3), nb, N_ITEMS, 4)[1].tolist() == [2, 1, 4, 5]
    src, dst, w = similar_edges(scores, np.full(4, 3), nb, N_ITEMS, 3)
    assert dst.tolist() == [2, 1, 4]
    np.testing.assert_allclose(w[2], f34)
    # N_1 = {2}: K' = 1 -> [2] -> dropped; an item without in/out neighbours gets no edge
    assert len(similar_edges(scores, np.array([1]), np.array([2]), N_ITEMS, 5)[0]) == 0
    assert 3 not in similar_edges(scores, np.array([1]), np.array([9]), N_ITEMS, 5)[0].tolist()


def test_user_item_edges_toy() -> None:
    graph = toy_graph()
    assert triples(graph, "interact") == [
        (1, 2, 3.0),
        (1, 3, 3.0),
        (1, 1, 2.0),
        (1, 4, 1.0),
        (1, 5, 1.0),
        (2, 3, 3.0),
        (2, 1, 2.0),
        (2, 2, 2.0),
        (2, 4, 1.0),
        (2, 5, 1.0),
    ]
    back = sorted((b, a, w) for a, b, w in triples(graph, "interacted_by"))
    assert back == sorted(triples(graph, "interact"))


def test_no_valid_or_test_item_in_graph() -> None:
    graph = toy_graph(s=1, k=2)
    for edge_type in EDGE_TYPES:
        src, dst, _ = graph.edge(edge_type)
        item_ends = {
            "interact": dst,
            "interacted_by": src,
        }.get(edge_type, np.concatenate([src, dst]))
        for unseen in (6, 7, 8, 9):  # 6 valid only, 7/9 test only, 8 of the dropped user 3
            assert unseen not in item_ends.tolist(), (edge_type, unseen)
    # user 3 was filtered out: no user-item edge
    assert 3 not in graph.edge("interact")[0].tolist()


def test_edge_matrix() -> None:
    graph = toy_graph()
    out = edge_matrix(graph, "out").to_dense()
    assert out.shape == (N_ITEMS, N_ITEMS) and out.dtype == torch.float32
    assert out[1].tolist() == [0, 0, 0.5, 0.5, 0, 0, 0, 0, 0, 0]
    assert out[6].abs().sum() == 0
    weighted = edge_matrix(graph, "out", weighted=True, layout="coo")
    assert weighted.is_sparse and weighted.to_dense()[2, 3] == 0.75
    assert weighted.to_dense()[2, 1] == 0.25
    inter = graph.matrix("interact").to_dense()
    assert inter.shape == (N_USERS, N_ITEMS)
    torch.testing.assert_close(inter.sum(1), torch.tensor([0.0, 1.0, 1.0, 0.0]))
    assert graph.matrix("interacted_by").shape == (N_ITEMS, N_USERS)
    shared = graph.matrix("interact", shared_index=True, layout="coo").to_dense()
    assert shared.shape == (N_ITEMS + N_USERS,) * 2
    assert shared[N_ITEMS + 1, 1] == 0.2  # user 1 has 5 distinct items
    shared_b = graph.matrix("interacted_by", shared_index=True).to_dense()
    assert shared_b[4, N_ITEMS + 1] == 0.5 and shared_b[4, N_ITEMS + 2] == 0.5
    # mean aggregation in one matmul
    x = torch.arange(N_ITEMS, dtype=torch.float32)[:, None]
    assert (edge_matrix(graph, "in") @ x)[3, 0] == pytest.approx((2 + 1 + 4) / 3)


def test_errors() -> None:
    train = toy_train()
    args = (train["session"], train["user"], train["item"])
    with pytest.raises(ValueError, match="transition_top_s"):
        build_global_graph(*args, n_users=N_USERS, n_items=N_ITEMS, transition_top_s=0)
    with pytest.raises(ValueError, match="similar_top_k"):
        build_global_graph(*args, n_users=N_USERS, n_items=N_ITEMS, similar_top_k=0)
    with pytest.raises(ValueError, match="n_items"):
        build_global_graph(*args, n_users=N_USERS, n_items=5)
    with pytest.raises(ValueError, match="n_users"):
        build_global_graph(*args, n_users=2, n_items=N_ITEMS)
    graph = toy_graph()
    with pytest.raises(ValueError, match="interacted_by"):
        graph.edge("similarity")
    with pytest.raises(ValueError, match="valid names"):
        edge_matrix(graph, "user")
    with pytest.raises(ValueError, match="layout"):
        edge_matrix(graph, "in", layout="dense")


sessions_strategy = st.lists(
    st.tuples(st.integers(1, 3), st.lists(st.integers(1, 7), min_size=1, max_size=7)),
    min_size=1,
    max_size=10,
)


def flatten(sessions: list[tuple[int, list[int]]]) -> tuple[np.ndarray, ...]:
    sess = [k for k, (_, items) in enumerate(sessions) for _ in items]
    users = [u for u, items in sessions for _ in items]
    items = [i for _, items in sessions for i in items]
    return np.array(sess), np.array(users), np.array(items)


@settings(max_examples=60, deadline=None)
@given(sessions_strategy, st.integers(1, 4), st.integers(1, 4))
def test_graph_properties(sessions: list[tuple[int, list[int]]], s: int, k: int) -> None:
    sess, users, items = flatten(sessions)
    full = build_global_graph(sess, users, items, n_users=4, n_items=8, transition_top_s=100)
    # before the cut, "in" is "out" reversed
    out_pairs = {(a, b, w) for a, b, w in triples(full, "out")}
    assert out_pairs == {(b, a, w) for a, b, w in triples(full, "in")}
    graph = build_global_graph(
        sess, users, items, n_users=4, n_items=8, transition_top_s=s, similar_top_k=k
    )
    neighbours: dict[int, set[int]] = {}
    for direction in ("in", "out"):
        src, dst, w = graph.edge(direction)
        assert np.bincount(src, minlength=8).max(initial=0) <= s
        kept = set(zip(src.tolist(), dst.tolist(), strict=True))
        assert kept <= {(a, b) for a, b, _ in triples(full, direction)}
        # a cut edge is never heavier than a kept edge of its node
        for a, b, wt in triples(full, direction):
            if (a, b) not in kept:
                assert wt <= w[src == a].min()
        for a, b in kept:
            neighbours.setdefault(a, set()).add(b)
    src, dst, _ = graph.edge("similar")
    for v in range(8):
        assert (src == v).sum() <= min(k, len(neighbours.get(v, ())))
    for a, b in zip(src.tolist(), dst.tolist(), strict=True):
        assert b not in neighbours.get(a, set()) and a != b
    for name in EDGE_TYPES:
        m = graph.matrix(name).to_dense()
        rows = m.sum(1)
        assert torch.all(((rows - 1).abs() < 1e-5) | (rows == 0))


@settings(max_examples=40, deadline=None)
@given(sessions_strategy)
def test_eq1_matches_naive(sessions: list[tuple[int, list[int]]]) -> None:
    sess, _, items = flatten(sessions)
    dense = cooccurrence_scores(sess, items, 8).toarray()
    sets = [set(s) for _, s in sessions]
    for i in range(8):
        for j in range(8):
            n_i = [s for s in sets if i in s]
            n_j = [s for s in sets if j in s]
            common = [s for s in sets if i in s and j in s]
            want = (
                0.0
                if i == j or not common
                else sum(1 / len(s) for s in common) / math.sqrt(len(n_i) * len(n_j))
            )
            assert dense[i, j] == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_keep_top_per_node_cap_array() -> None:
    src, dst, w = keep_top_per_node(
        np.array([1, 1, 1, 2, 2]),
        np.array([5, 4, 3, 1, 3]),
        np.array([1.0, 2.0, 2.0, 1.0, 1.0]),
        np.array([0, 2, 1]),
    )
    assert list(zip(src.tolist(), dst.tolist(), strict=True)) == [(1, 3), (1, 4), (2, 1)]
