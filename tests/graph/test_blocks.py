"""Graph blocks: folds dealt round-robin over each user's sessions, fold counts checked, and the
block-diagonal stack of graphs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recbole_hug.graph.blocks import check_folds, session_folds, stack_graphs
from recbole_hug.graph.global_graph import EDGE_TYPES, build_global_graph


def test_folds_go_round_robin_over_each_users_sessions() -> None:
    # User 1: sessions 10, 11, 12, 13; user 2: sessions 20, 21 (rows contiguous).
    session = np.array([10, 10, 11, 11, 12, 12, 13, 13, 20, 20, 20, 21, 21])
    user = np.array([1] * 8 + [2] * 5)
    fold = session_folds(session, user, 3)
    # (user + rank) % 3: user 1 -> 1, 2, 0, 1; user 2 -> 2, 0; one fold per session.
    assert fold.tolist() == [1, 1, 2, 2, 0, 0, 1, 1, 2, 2, 2, 0, 0]


@pytest.mark.parametrize("bad", [1, 0, 7, 2.0, True])
def test_fold_counts_outside_2_to_the_number_of_sessions_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="graph_folds must be"):
        check_folds(bad, 6)
    assert check_folds(6, 6) == 6


def test_stacked_graphs_are_block_diagonal() -> None:
    session = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    user = np.array([1, 1, 1, 1, 1, 2, 2, 2])
    item = np.array([1, 2, 3, 2, 3, 3, 1, 2])
    sizes = {"n_users": 3, "n_items": 4}
    first = build_global_graph(session, user, item, **sizes)
    second = build_global_graph(session[:5], user[:5], item[:5], **sizes)
    stacked = stack_graphs([first, second])
    assert (stacked.n_users, stacked.n_items) == (6, 8)
    for name in EDGE_TYPES:
        whole = stacked.matrix(name, layout="coo").to_dense()
        rows, cols = first.shape(name)
        assert torch.equal(whole[:rows, :cols], first.matrix(name, layout="coo").to_dense())
        assert torch.equal(whole[rows:, cols:], second.matrix(name, layout="coo").to_dense())
        assert not whole[:rows, cols:].any() and not whole[rows:, :cols].any()
    with pytest.raises(ValueError, match="same n_users and n_items"):
        stack_graphs([first, build_global_graph(session, user, item, n_users=3, n_items=5)])
