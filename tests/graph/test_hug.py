"""Tests of the HUG construction (recbole_hug.graph.hug): hand-worked examples and properties."""

from __future__ import annotations

import itertools
from collections import deque

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recbole_hug.graph.hug import (
    graph_attention_mask,
    knn_predecessor_edges,
    shortest_path_lengths,
    svd_item_embeddings,
)

PROPERTY_SETTINGS = settings(max_examples=50, deadline=None)


def _adj_from_edges(length: int, edges: list[tuple[int, int]]) -> torch.Tensor:
    """``[L, L]`` bool matrix with True at each ``(i, j)`` of ``edges``."""
    adj = torch.zeros(length, length, dtype=torch.bool)
    for i, j in edges:
        adj[i, j] = True
    return adj


# ---------------------------------------------------------------------------------------------
# knn_predecessor_edges: hand-worked examples
# ---------------------------------------------------------------------------------------------

# Item 0 is padding. Cosines (after normalisation):
#   cos(1,2) = 0, cos(1,3) = cos(2,3) = 1/sqrt(2) (an exact tie), cos(1,4) = -1, cos(2,4) = 0,
#   cos(3,4) = -1/sqrt(2); cos(x, x) = 1.
HAND_EMB = torch.tensor(
    [
        [0.0, 0.0],  # 0: padding
        [1.0, 0.0],  # 1
        [0.0, 1.0],  # 2
        [1.0, 1.0],  # 3 (not unit norm on purpose: the function normalises)
        [-1.0, 0.0],  # 4
    ]
)
# Sequence A: right padding, a repeated item and a tie (position 2: items 1 and 2 equally
# similar to item 3 -> the nearer, j = 1, wins for k = 1).
# Sequence B: padding in the middle (position 1), which must never be linked.
HAND_SEQ = torch.tensor([[1, 2, 3, 1, 0], [4, 0, 2, 3, 1]])


def test_knn_hand_k1() -> None:
    expected = torch.stack(
        [
            _adj_from_edges(5, [(1, 0), (2, 1), (3, 0)]),
            _adj_from_edges(5, [(2, 0), (3, 2), (4, 3)]),
        ]
    )
    assert torch.equal(knn_predecessor_edges(HAND_SEQ, HAND_EMB, k=1), expected)


def test_knn_hand_k2() -> None:
    expected = torch.stack(
        [
            _adj_from_edges(5, [(1, 0), (2, 0), (2, 1), (3, 0), (3, 2)]),
            _adj_from_edges(5, [(2, 0), (3, 0), (3, 2), (4, 2), (4, 3)]),
        ]
    )
    assert torch.equal(knn_predecessor_edges(HAND_SEQ, HAND_EMB, k=2), expected)


def test_knn_hand_k_larger_than_history_links_all_real_predecessors() -> None:
    expected = torch.stack(
        [
            _adj_from_edges(5, [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]),
            _adj_from_edges(5, [(2, 0), (3, 0), (3, 2), (4, 0), (4, 2), (4, 3)]),
        ]
    )
    assert torch.equal(knn_predecessor_edges(HAND_SEQ, HAND_EMB, k=10), expected)


def test_knn_repeated_items_kept_and_nearest_copy_wins_tie() -> None:
    seq = torch.tensor([[1, 1, 2, 1]])
    # Position 2 (item 2): both predecessors are item 1 (cosine 0, tie) -> nearer j = 1.
    # Position 3 (item 1): two copies of item 1 (cosine 1, tie) beat item 2 -> j = 1, then j = 0.
    expected_k1 = _adj_from_edges(4, [(1, 0), (2, 1), (3, 1)]).unsqueeze(0)
    expected_k2 = _adj_from_edges(4, [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1)]).unsqueeze(0)
    assert torch.equal(knn_predecessor_edges(seq, HAND_EMB, k=1), expected_k1)
    assert torch.equal(knn_predecessor_edges(seq, HAND_EMB, k=2), expected_k2)


def test_knn_all_padding_and_empty_sequences() -> None:
    assert not knn_predecessor_edges(torch.zeros(2, 4, dtype=torch.long), HAND_EMB, k=3).any()
    out = knn_predecessor_edges(torch.zeros(2, 0, dtype=torch.long), HAND_EMB, k=3)
    assert out.shape == (2, 0, 0)


@pytest.mark.parametrize("k", [0, -1, 1.5, True, None])
def test_knn_rejects_bad_k(k: object) -> None:
    with pytest.raises(ValueError, match="hug_k"):
        knn_predecessor_edges(HAND_SEQ, HAND_EMB, k=k)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# shortest_path_lengths / graph_attention_mask: hand-worked example
# ---------------------------------------------------------------------------------------------

# Edges (i -> j, j < i): 2-0, 2-1, 3-2, 4-0. Positions 0 and 1 are joined only through the later
# position 2, so row 1 must not see that path (causality): s[1, 0] = clip, not 2.
HAND_ADJ = _adj_from_edges(5, [(2, 0), (2, 1), (3, 2), (4, 0)]).unsqueeze(0)


def test_shortest_paths_hand_clip4() -> None:
    expected = torch.tensor(
        [
            [0, 4, 4, 4, 4],
            [4, 0, 4, 4, 4],  # 1 -> 0 only via 2, a later position: unreachable -> clip
            [1, 1, 0, 4, 4],
            [2, 2, 1, 0, 4],
            [1, 3, 2, 3, 0],  # 4-0-2-1 and 4-0-2-3
        ]
    ).unsqueeze(0)
    assert torch.equal(shortest_path_lengths(HAND_ADJ, clip=4), expected)


def test_shortest_paths_hand_small_clips() -> None:
    expected_clip2 = torch.tensor(
        [
            [0, 2, 2, 2, 2],
            [2, 0, 2, 2, 2],
            [1, 1, 0, 2, 2],
            [2, 2, 1, 0, 2],
            [1, 2, 2, 2, 0],
        ]
    ).unsqueeze(0)
    expected_clip1 = torch.ones(1, 5, 5, dtype=torch.long) - torch.eye(5, dtype=torch.long)
    assert torch.equal(shortest_path_lengths(HAND_ADJ, clip=2), expected_clip2)
    assert torch.equal(shortest_path_lengths(HAND_ADJ, clip=1), expected_clip1)


def test_shortest_paths_from_knn_hand_graph() -> None:
    # Sequence A of HAND_SEQ with k=1: edges 1-0, 2-1, 3-0 (position 4 is padding).
    expected = torch.tensor(
        [
            [0, 3, 3, 3, 3],
            [1, 0, 3, 3, 3],
            [2, 1, 0, 3, 3],
            [1, 2, 3, 0, 3],  # 3-0-1-2 has length 3 = clip
            [3, 3, 3, 3, 0],  # padding: only itself
        ]
    )
    adj = knn_predecessor_edges(HAND_SEQ, HAND_EMB, k=1)
    assert torch.equal(shortest_path_lengths(adj, clip=3)[0], expected)


@pytest.mark.parametrize("clip", [0, -2, 2.0, False])
def test_shortest_paths_rejects_bad_clip(clip: object) -> None:
    with pytest.raises(ValueError, match="spatial_clip"):
        shortest_path_lengths(HAND_ADJ, clip=clip)  # type: ignore[arg-type]


def test_graph_attention_mask_hand() -> None:
    expected = _adj_from_edges(
        5, [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (2, 0), (2, 1), (3, 2), (4, 0)]
    ).unsqueeze(0)
    assert torch.equal(graph_attention_mask(HAND_ADJ), expected)
    assert torch.equal(graph_attention_mask(HAND_ADJ, self_loop=False), HAND_ADJ)
    # An edge stored the other way round (earlier -> later) is used by the later position only.
    upper = HAND_ADJ.transpose(1, 2)
    assert torch.equal(graph_attention_mask(upper), expected)


# ---------------------------------------------------------------------------------------------
# svd_item_embeddings
# ---------------------------------------------------------------------------------------------

# 5 real users (ids 1..5), 6 real items (ids 1..6); items 1 and 2 have the same user set
# {1, 2, 5}; item 6 has no interaction.
SVD_USERS = np.array([1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 5, 1])
SVD_ITEMS = np.array([1, 2, 1, 2, 3, 3, 4, 4, 5, 1, 2, 5, 1])  # (1, 1) twice: counts once


def test_svd_shape_padding_norms_and_identical_items() -> None:
    emb = svd_item_embeddings(SVD_USERS, SVD_ITEMS, n_users=6, n_items=7, dim=3, seed=0)
    assert emb.shape == (7, 3)
    assert emb.dtype == np.float32
    assert np.all(emb[0] == 0)  # padding
    assert np.all(emb[6] == 0)  # never interacted
    np.testing.assert_allclose(np.linalg.norm(emb[1:6], axis=1), 1.0, atol=1e-6)
    assert emb[1] @ emb[2] == pytest.approx(1.0, abs=1e-5)


def test_svd_scaled_weights_components_by_singular_values() -> None:
    # R's singular values differ, so scaling changes the cosines; identical items stay identical
    # and each scaled row is the unscaled row times s, renormalised.
    plain = svd_item_embeddings(SVD_USERS, SVD_ITEMS, n_users=6, n_items=7, dim=3, seed=0)
    scaled = svd_item_embeddings(
        SVD_USERS, SVD_ITEMS, n_users=6, n_items=7, dim=3, seed=0, scaled=True
    )
    matrix = np.zeros((6, 7))
    matrix[SVD_USERS, SVD_ITEMS] = 1.0
    singular = np.linalg.svd(matrix, compute_uv=False)[:3]
    expected = plain[1:6] * singular
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(np.abs(scaled[1:6]), np.abs(expected), atol=1e-5)
    assert np.all(scaled[[0, 6]] == 0)
    assert scaled[1] @ scaled[2] == pytest.approx(1.0, abs=1e-5)
    assert not np.allclose(scaled @ scaled.T, plain @ plain.T, atol=1e-3)


def test_svd_deterministic_for_a_seed() -> None:
    first = svd_item_embeddings(SVD_USERS, SVD_ITEMS, n_users=6, n_items=7, dim=3, seed=7)
    second = svd_item_embeddings(SVD_USERS, SVD_ITEMS, n_users=6, n_items=7, dim=3, seed=7)
    np.testing.assert_array_equal(first, second)


def test_svd_uses_only_the_given_interactions() -> None:
    # Training: two blocks with no shared user: users 1-3 x items 1-3, users 4-5 x items 4-5.
    block_a = list(itertools.product([1, 2, 3], [1, 2, 3]))
    block_b = list(itertools.product([4, 5], [4, 5]))
    train = np.array(block_a + block_b)
    # Held-out interactions that would bridge the blocks.
    held_out = np.array([(1, 4), (1, 5), (4, 1), (2, 4)])

    emb = svd_item_embeddings(train[:, 0], train[:, 1], n_users=6, n_items=7, dim=2, seed=0)
    sim = emb @ emb.T
    # Items co-occurring in the given interactions are similar, the others are not.
    assert sim[1, 2] == pytest.approx(1.0, abs=1e-5)
    assert sim[4, 5] == pytest.approx(1.0, abs=1e-5)
    assert abs(sim[1, 4]) < 1e-5
    assert abs(sim[3, 5]) < 1e-5

    both = np.concatenate([train, held_out])
    emb_all = svd_item_embeddings(both[:, 0], both[:, 1], n_users=6, n_items=7, dim=2, seed=0)
    assert (emb_all @ emb_all.T)[1, 4] > 0.1


@pytest.mark.parametrize("dim", [0, -1, 6, 7, 2.0, True])
def test_svd_rejects_bad_dim(dim: object) -> None:
    # n_items=7 -> 6 real items, n_users=6 -> 5 real users: 1 <= svd_dim <= min(5, 7 - 2) = 5.
    with pytest.raises(ValueError, match="svd_dim"):
        svd_item_embeddings(SVD_USERS, SVD_ITEMS, n_users=6, n_items=7, dim=dim)  # type: ignore[arg-type]


def test_svd_largest_allowed_dim() -> None:
    emb = svd_item_embeddings(SVD_USERS, SVD_ITEMS, n_users=6, n_items=7, dim=5)
    assert emb.shape == (7, 5)
    np.testing.assert_allclose(np.linalg.norm(emb[1:6], axis=1), 1.0, atol=1e-6)


def test_svd_dim_bounded_by_real_users() -> None:
    with pytest.raises(ValueError, match=r"svd_dim.*= 2"):
        svd_item_embeddings(np.array([1, 2]), np.array([1, 2]), n_users=3, n_items=10, dim=3)


@pytest.mark.parametrize(
    ("users", "items"),
    [
        ([1, 0], [1, 2]),  # padding user
        ([1, 6], [1, 2]),  # user id == n_users
        ([1, 2], [0, 2]),  # padding item
        ([1, 2], [1, 7]),  # item id == n_items
        ([1, 2], [1]),  # lengths differ
    ],
)
def test_svd_rejects_bad_ids(users: list[int], items: list[int]) -> None:
    with pytest.raises(ValueError):
        svd_item_embeddings(np.array(users), np.array(items), n_users=6, n_items=7, dim=2)


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

# Embedding rows with entries +-0.5 in 4-d are unit vectors whose dot products (-1, -0.5, 0, 0.5,
# 1) are exact in floating point, so a naive reference can reproduce ties bit for bit.
EXACT_ROWS = [list(row) for row in itertools.product([-0.5, 0.5], repeat=4)] + [[0.0] * 4]


@st.composite
def exact_case(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``(item_seq [B, L], item_emb [n_items, 4], k)`` with exact similarities."""
    n_items = draw(st.integers(2, 8))
    rows = [[0.0] * 4] + [draw(st.sampled_from(EXACT_ROWS)) for _ in range(n_items - 1)]
    batch = draw(st.integers(1, 3))
    length = draw(st.integers(1, 10))
    right_padded = draw(st.booleans())
    seqs = []
    for _ in range(batch):
        seq = draw(st.lists(st.integers(0, n_items - 1), min_size=length, max_size=length))
        if right_padded:  # RecBole's layout: items, then zeros
            n_real = draw(st.integers(0, length))
            seq = [item if item else 1 for item in seq[:n_real]] + [0] * (length - n_real)
        seqs.append(seq)
    k = draw(st.integers(1, 6))
    return torch.tensor(seqs), torch.tensor(rows), k


@st.composite
def float_case(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``(item_seq [B, L], item_emb [n_items, d], k)`` with random float embeddings."""
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    n_items = draw(st.integers(2, 30))
    batch = draw(st.integers(1, 4))
    length = draw(st.integers(1, 16))
    emb = torch.randn(n_items, draw(st.integers(1, 8)), generator=gen)
    seq = torch.randint(0, n_items, (batch, length), generator=gen)
    return seq, emb, draw(st.integers(1, 8))


def _naive_knn(seq: torch.Tensor, emb: torch.Tensor, k: int) -> torch.Tensor:
    """Reference: per position, sort real predecessors by (similarity, position), descending."""
    emb = torch.nn.functional.normalize(emb.double(), dim=1)
    batch, length = seq.shape
    adj = torch.zeros(batch, length, length, dtype=torch.bool)
    for b in range(batch):
        for i in range(length):
            if seq[b, i] == 0:
                continue
            cands = [
                (float(emb[seq[b, i]] @ emb[seq[b, j]]), j) for j in range(i) if seq[b, j] != 0
            ]
            for _, j in sorted(cands, reverse=True)[:k]:
                adj[b, i, j] = True
    return adj


def _naive_causal_bfs(adj: torch.Tensor, clip: int) -> torch.Tensor:
    """Reference: for every row i, BFS from i on the undirected graph of positions 0..i."""
    batch, length, _ = adj.shape
    out = torch.full((batch, length, length), clip, dtype=torch.long)
    for b in range(batch):
        und = adj[b] | adj[b].T
        for i in range(length):
            dist = {i: 0}
            queue = deque([i])
            while queue:
                u = queue.popleft()
                for v in range(i + 1):
                    if und[u, v] and v not in dist:
                        dist[v] = dist[u] + 1
                        queue.append(v)
            for j, d in dist.items():
                out[b, i, j] = min(d, clip)
    return out


@PROPERTY_SETTINGS
@given(exact_case())
def test_knn_matches_naive_reference(case: tuple[torch.Tensor, torch.Tensor, int]) -> None:
    seq, emb, k = case
    assert torch.equal(knn_predecessor_edges(seq, emb, k), _naive_knn(seq, emb, k))


@PROPERTY_SETTINGS
@given(exact_case(), st.data())
def test_knn_prefix_graph_is_graph_prefix(
    case: tuple[torch.Tensor, torch.Tensor, int], data: st.DataObject
) -> None:
    seq, emb, k = case
    adj = knn_predecessor_edges(seq, emb, k)
    p = data.draw(st.integers(0, seq.shape[1]))
    assert torch.equal(knn_predecessor_edges(seq[:, :p], emb, k), adj[:, :p, :p])


@PROPERTY_SETTINGS
@given(float_case())
def test_knn_structural_invariants(case: tuple[torch.Tensor, torch.Tensor, int]) -> None:
    seq, emb, k = case
    adj = knn_predecessor_edges(seq, emb, k)
    length = seq.shape[1]
    assert adj.dtype == torch.bool and adj.shape == (seq.shape[0], length, length)
    # Only strictly earlier positions.
    assert not adj.triu().any()
    # Padding never links and is never linked.
    pad = seq == 0
    assert not adj[pad].any()
    assert not adj.transpose(1, 2)[pad].any()
    # Exactly min(k, #real predecessors) edges at every real position.
    real = (~pad).long()
    real_before = torch.cumsum(real, dim=1) - real
    expected = torch.where(pad, 0, torch.clamp(real_before, max=k))
    assert torch.equal(adj.sum(-1), expected)
    # The picked predecessors are the most similar: none left out is strictly better.
    unit = torch.nn.functional.normalize(emb, dim=1)[seq]
    sim = unit @ unit.transpose(1, 2)
    valid = torch.ones(length, length, dtype=torch.bool).tril(-1) & ~pad[:, :, None]
    valid &= ~pad[:, None, :]
    worst_in = torch.where(adj, sim, torch.inf).amin(-1)
    best_out = torch.where(valid & ~adj, sim, -torch.inf).amax(-1)
    assert bool((best_out <= worst_in).all())


@st.composite
def adj_case(draw: st.DrawFn) -> tuple[torch.Tensor, int]:
    """``(adj [B, L, L], clip)``: random, lower-triangular (like knn) or in any direction."""
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    batch = draw(st.integers(1, 3))
    length = draw(st.integers(1, 12))
    density = draw(st.sampled_from([0.05, 0.15, 0.3, 0.6]))
    adj = torch.rand(batch, length, length, generator=gen) < density
    if draw(st.booleans()):
        adj = adj.tril(-1)
    return adj, draw(st.integers(1, 6))


@PROPERTY_SETTINGS
@given(adj_case())
def test_shortest_paths_match_naive_causal_bfs(case: tuple[torch.Tensor, int]) -> None:
    adj, clip = case
    out = shortest_path_lengths(adj, clip)
    assert out.dtype == torch.long
    assert torch.equal(out, _naive_causal_bfs(adj, clip))
    length = adj.shape[1]
    assert torch.all(out.diagonal(dim1=1, dim2=2) == 0)
    assert torch.all(out[:, ~torch.ones(length, length, dtype=torch.bool).tril()] == clip)
    assert int(out.min()) >= 0 and int(out.max()) <= clip


@PROPERTY_SETTINGS
@given(adj_case(), st.data())
def test_shortest_paths_prefix_property(
    case: tuple[torch.Tensor, int], data: st.DataObject
) -> None:
    adj, clip = case
    p = data.draw(st.integers(0, adj.shape[1]))
    out = shortest_path_lengths(adj, clip)
    assert torch.equal(shortest_path_lengths(adj[:, :p, :p], clip), out[:, :p, :p])


@PROPERTY_SETTINGS
@given(float_case(), st.integers(1, 5))
def test_pipeline_causal_under_future_changes(
    case: tuple[torch.Tensor, torch.Tensor, int], clip: int
) -> None:
    # Changing the items after position p changes nothing in rows <= p.
    seq, emb, k = case
    p = seq.shape[1] // 2
    other = seq.clone()
    other[:, p + 1 :] = torch.randint(0, emb.shape[0], other[:, p + 1 :].shape)
    adj, adj_other = knn_predecessor_edges(seq, emb, k), knn_predecessor_edges(other, emb, k)
    assert torch.equal(adj[:, : p + 1], adj_other[:, : p + 1])
    sp, sp_other = shortest_path_lengths(adj, clip), shortest_path_lengths(adj_other, clip)
    assert torch.equal(sp[:, : p + 1], sp_other[:, : p + 1])
    mask = graph_attention_mask(adj)
    assert torch.equal(mask[:, : p + 1], graph_attention_mask(adj_other)[:, : p + 1])
    # Every position attends to something (its self loop) and never to the future.
    assert torch.all(mask.diagonal(dim1=1, dim2=2))
    assert not mask.triu(1).any()
