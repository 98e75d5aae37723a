"""Graph blocks: the global graphs that HG-GNN's rows propagate over, stacked into one graph.

HG-GNN (Pang et al., WSDM 2022, section 4.2) builds its global graph from all training sessions,
so a training row's own session (its target, and the items after it) is in the graph that encodes
the row, through every edge type that touches the session; at test time the target is not there.
Leave-own-session-out propagation keeps them apart by **cross-fitting**:

* :func:`session_folds` gives every training session one of ``F`` folds;
* fold ``f``'s graph is :func:`~recbole_hug.graph.global_graph.build_global_graph` over the
  training sessions NOT in fold ``f``, and the rows of fold ``f`` propagate over it. Everything
  is rebuilt from those sessions, nothing is patched: the in/out counts, Eq. 1's scores and
  normalisations, the user-item edges, and the top-S and top-K cuts are recomputed exactly, and
  edges whose count falls to zero are simply not there;
* validation rows propagate over the graph of all training sessions, test rows over the graph
  of the training and validation sessions (section 4.2's "training data"; option
  ``test_graph_with_valid``, the dataset's choice: :mod:`recbole_hug.data.session_dataset`).

Why cross-fitting and not an exact per-row graph: removing exactly one session changes the top-S
and top-K cuts and Eq. 1's normalisations of every item it touches, so each row would need its own
K-hop neighbourhood, and a batch of 512 rows would propagate 512 different graphs. With F folds the
``F + 2`` graphs are built once, when the data are loaded, and stacked block-diagonally
(:func:`stack_graphs`): block ``b``'s item ``v`` is node ``b * n_items + v`` (users likewise), so
one batch whose rows come from different folds is still ONE vectorised propagation over the
stacked graph, as the paper's model is (the embeddings are shared: node ``i`` reads the embedding
of ``i % n_items``). The price is that a fold's graph also lacks the other sessions of its fold:
``1/F`` of the data. Folds are dealt round-robin over each user's sessions, so a user with at most
``F`` training sessions loses exactly its own session's user-item edges in each fold (an item of
the user's other sessions keeps its edge, as leave-one-session-out would have it); a user with
more sessions loses ``1/F`` of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recbole_hug.graph.global_graph import EDGE_ENDS, EDGE_TYPES, GlobalGraph

#: The column that holds each session row's graph block.
GRAPH_BLOCK_FIELD = "graph_block"


def check_folds(n_folds: int, n_sessions: int) -> int:
    """``n_folds`` as an int; ValueError naming ``graph_folds`` unless ``2 <= n_folds <= n``.

    Args:
        n_folds: F, the number of folds.
        n_sessions: the number of training sessions.
    """
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)):
        raise ValueError(f"graph_folds must be an integer, got {n_folds!r}")
    if not 2 <= n_folds <= n_sessions:
        raise ValueError(
            f"graph_folds must be >= 2 and at most the number of training sessions "
            f"({n_sessions}), got {n_folds}"
        )
    return int(n_folds)


def session_folds(session: np.ndarray, user: np.ndarray, n_folds: int) -> np.ndarray:
    """The fold of every interaction's session: ``(user + rank of the session) % F``.

    ``rank`` counts the user's sessions in frame order (0, 1, ...), so consecutive sessions of a
    user go to consecutive folds, and the user offset spreads the users' first sessions over the
    folds.

    Args:
        session: session id of every interaction, ``[N]``; a session's rows contiguous.
        user: user id of every interaction, ``[N]``; a user's sessions contiguous.
        n_folds: F (checked by :func:`check_folds`).

    Returns:
        int64 ``[N]``, the fold in ``0..F-1`` of each interaction.

    Raises:
        ValueError: F below 2 or above the number of sessions (names ``graph_folds``).
    """
    session = np.asarray(session)
    user = np.asarray(user, dtype=np.int64)
    if len(session) == 0:
        raise ValueError("graph_folds: there are no training sessions to fold")
    starts = np.ones(len(session), dtype=bool)
    starts[1:] = session[1:] != session[:-1]
    n_folds = check_folds(n_folds, int(starts.sum()))
    session_user = user[starts]
    new_user = np.ones(len(session_user), dtype=bool)
    new_user[1:] = session_user[1:] != session_user[:-1]
    index = np.arange(len(session_user))
    rank = index - np.maximum.accumulate(np.where(new_user, index, 0))
    fold = (session_user + rank) % n_folds
    return fold[np.cumsum(starts) - 1]


def stack_graphs(graphs: Sequence[GlobalGraph]) -> GlobalGraph:
    """The block-diagonal union of graphs over one id space (module docstring).

    Args:
        graphs: ``B`` graphs with the same ``n_users`` and ``n_items``.

    Returns:
        A :class:`GlobalGraph` with ``B * n_users`` users and ``B * n_items`` items: block ``b``'s
        item ``v`` is ``b * n_items + v``, its user ``u`` is ``b * n_users + u``; every edge
        type's arrays concatenated in block order (so still sorted by source).

    Raises:
        ValueError: no graph, or graphs of different sizes.
    """
    if not graphs:
        raise ValueError("stack_graphs needs at least one graph")
    n_users, n_items = graphs[0].n_users, graphs[0].n_items
    if any((g.n_users, g.n_items) != (n_users, n_items) for g in graphs):
        raise ValueError("stack_graphs: every graph must have the same n_users and n_items")
    offsets = {"item": n_items, "user": n_users}
    edges = {}
    for name in EDGE_TYPES:
        src_kind, dst_kind = EDGE_ENDS[name]
        parts = [graph.edge(name) for graph in graphs]
        edges[name] = (
            np.concatenate([p[0] + b * offsets[src_kind] for b, p in enumerate(parts)]),
            np.concatenate([p[1] + b * offsets[dst_kind] for b, p in enumerate(parts)]),
            np.concatenate([p[2] for p in parts]),
        )
    return GlobalGraph(n_users=len(graphs) * n_users, n_items=len(graphs) * n_items, edges=edges)
