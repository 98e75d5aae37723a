"""Where HG-GNN's global graph is built: the heterogeneous global graph of section 4.2.

Pang et al., Heterogeneous Global Graph Neural Networks for Personalized Session-based
Recommendation, WSDM 2022. The graph is built from the TRAINING sessions only (the caller passes
them, e.g. ``SessionSplit.train`` of :mod:`recbole_hug.data.session_split`); ids are RecBole's: 0 is
padding, items ``1..n_items-1``, users ``1..n_users-1``.

Functions and equations:

* :func:`transition_counts` - the item transitions ``v_i -> v_{i+1}`` and their frequency over
  all training sessions (section 4.2.1, the weights of ``r_in`` / ``r_out``).
* :func:`keep_top_per_node` - the top-S sampling of ``r_in`` / ``r_out`` per node and direction
  (section 4.2.1) and the top-K' cut of ``r_similar`` (Eq. 2).
* :func:`cooccurrence_scores` - Eq. 1, the co-occurrence frequency ``f_v(v_i, v_j)``.
* :func:`similar_edges` - Eq. 1-3: top-``K'`` co-occurring items, ``K' = min(K, |N_v|)`` where
  ``N_v`` is the set of ``r_in``/``r_out`` neighbours of v (Eq. 3), pairs already joined by
  ``r_in``/``r_out`` dropped.
* :func:`build_global_graph` - all five edge types (section 4.2.2 adds ``r_interact`` /
  ``r_interacted_by``), as a :class:`GlobalGraph`.
* :func:`edge_matrix` - one edge type as a row-normalised torch sparse matrix, so Eq. 4 (the mean
  over the neighbours of one edge type) is one sparse matmul.

Edge convention (all types): a triple ``(src, dst, weight)`` says that ``dst`` is a neighbour of
``src`` of that type, i.e. ``dst`` is in ``N_r(src)`` of Eq. 4 and ``src`` aggregates ``dst``. So
the "out" edges of v go to the items that follow v, the "in" edges to the items that precede v,
"similar" edges to v's similar items, "interact" edges from a user to the items the user
interacted with (the user side of Eq. 7) and "interacted_by" edges from an item to its users (the
``r_u`` term of Eq. 6). The paper writes triples in the message direction, (neighbour, node), i.e.
reversed. Config names: ``transition_top_s`` is the paper's S (official default 12),
``similar_top_k`` its K (official default 20).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

EDGE_TYPES: tuple[str, ...] = ("in", "out", "similar", "interact", "interacted_by")
"""The edge-type names of :class:`GlobalGraph`."""

#: For each edge type: (the node kind of its sources, the node kind of its destinations), i.e.
#: (the node it updates, the node it reads).
EDGE_ENDS: dict[str, tuple[str, str]] = {
    "in": ("item", "item"),
    "out": ("item", "item"),
    "similar": ("item", "item"),
    "interact": ("user", "item"),
    "interacted_by": ("item", "user"),
}

EdgeTriple = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class GlobalGraph:
    """HG-GNN's heterogeneous global graph, one edge list per edge type.

    Attributes:
        n_users: number of user ids, padding 0 included (RecBole's ``user_num``).
        n_items: number of item ids, padding 0 included (RecBole's ``item_num``).
        edges: edge-type name (:data:`EDGE_TYPES`) -> ``(src, dst, weight)``, each of shape
            ``[E_r]``; src/dst int64, weight float64; sorted by src, then by weight descending,
            then by dst. Weights: "in"/"out" transition counts, "similar" Eq. 1 scores,
            "interact"/"interacted_by" the number of training interactions of the user with the
            item. Item and user ids are in their own index spaces (see :func:`edge_matrix`).
    """

    n_users: int
    n_items: int
    edges: dict[str, EdgeTriple] = field(repr=False)

    def edge(self, edge_type: str) -> EdgeTriple:
        """The ``(src, dst, weight)`` arrays of one edge type (ValueError for an unknown name)."""
        _check_edge_type(edge_type)
        return self.edges[edge_type]

    def shape(self, edge_type: str, shared_index: bool = False) -> tuple[int, int]:
        """``(rows, cols)`` of :meth:`matrix` for ``edge_type``."""
        _check_edge_type(edge_type)
        if shared_index:
            n = self.n_items + self.n_users
            return (n, n)
        return {
            "interact": (self.n_users, self.n_items),
            "interacted_by": (self.n_items, self.n_users),
        }.get(edge_type, (self.n_items, self.n_items))

    def matrix(
        self,
        edge_type: str,
        *,
        weighted: bool = False,
        layout: str = "csr",
        shared_index: bool = False,
    ) -> torch.Tensor:
        """See :func:`edge_matrix`."""
        return edge_matrix(
            self, edge_type, weighted=weighted, layout=layout, shared_index=shared_index
        )


def _check_edge_type(edge_type: str) -> None:
    if edge_type not in EDGE_TYPES:
        raise ValueError(f"unknown edge type {edge_type!r}; valid names: {list(EDGE_TYPES)}")


def _check_top(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def transition_counts(
    session: np.ndarray, item: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frequency of each item transition ``a -> b`` (consecutive items of one session).

    Self transitions ``a -> a`` (immediate repeats, when they were kept) are skipped: a self
    loop brings no neighbour information (Eq. 5 already concatenates the node's own embedding).

    Args:
        session: session id of every interaction, shape ``[N]``; a session's rows are contiguous
            and in time order.
        item: item id of every interaction, shape ``[N]``.

    Returns:
        ``(a, b, count)``, each ``[T]``: distinct pairs sorted by (a, b); ``count`` float64.
    """
    session = np.asarray(session)
    item = np.asarray(item, dtype=np.int64)
    if len(item) < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0)
    same = (session[1:] == session[:-1]) & (item[1:] != item[:-1])
    a, b = item[:-1][same], item[1:][same]
    if len(a) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0)
    pairs, count = np.unique(np.stack([a, b], axis=1), axis=0, return_counts=True)
    return pairs[:, 0].copy(), pairs[:, 1].copy(), count.astype(np.float64)


def _order(src: np.ndarray, dst: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Sort by src, weight descending, dst ascending."""
    return np.lexsort((dst, -weight, src))


def keep_top_per_node(
    src: np.ndarray, dst: np.ndarray, weight: np.ndarray, cap: int | np.ndarray
) -> EdgeTriple:
    """Keep each source node's ``cap`` heaviest edges.

    Ties are broken deterministically: higher weight first, then the smaller ``dst`` id (the
    official code keeps Python's first-seen order, which depends on the session order).

    Args:
        src, dst, weight: the edges, shape ``[E]`` each, no duplicate (src, dst).
        cap: the number kept per source node: one int, or an int array indexed by node id.

    Returns:
        ``(src, dst, weight)`` kept, sorted by src, weight descending, dst ascending.
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    weight = np.asarray(weight, dtype=np.float64)
    order = _order(src, dst, weight)
    src, dst, weight = src[order], dst[order], weight[order]
    if len(src) == 0:
        return src, dst, weight
    starts = np.ones(len(src), dtype=bool)
    starts[1:] = src[1:] != src[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(len(src)), 0))
    rank = np.arange(len(src)) - first
    limit = cap[src] if isinstance(cap, np.ndarray) else cap
    keep = rank < limit
    return src[keep], dst[keep], weight[keep]


def cooccurrence_scores(session: np.ndarray, item: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Eq. 1: the co-occurrence frequency of every pair of distinct items.

    ``f_v(v_i, v_j) = sum_{s in N(v_i) ∩ N(v_j)} 1 / (|N(s)| * sqrt(|N(v_i)| |N(v_j)|))``

    where ``N(v)`` is the set of training sessions that contain v and ``N(s)`` the set of
    DISTINCT items of session s (so a session counts once per item pair however often the items
    repeat in it). The paper defines N(v) over sessions; the official code computes it over
    users (``itemCF``: a user's item set instead of a session's); we follow the paper.

    Args:
        session: session id of every interaction, shape ``[N]``.
        item: item id of every interaction, shape ``[N]``, in ``0..n_items-1``.
        n_items: number of item ids (padding 0 included).

    Returns:
        Symmetric CSR matrix ``[n_items, n_items]``, float64, zero diagonal, entry (i, j) > 0
        exactly when i != j co-occur in a session.
    """
    session = np.asarray(session)
    item = np.asarray(item, dtype=np.int64)
    _, sess_index = np.unique(session, return_inverse=True)
    n_sessions = int(sess_index.max()) + 1 if len(sess_index) else 0
    member = sp.coo_matrix(
        (np.ones(len(item)), (sess_index, item)), shape=(n_sessions, n_items)
    ).tocsr()
    member.data[:] = 1.0  # duplicates summed by tocsr: back to a 0/1 incidence matrix
    session_size = np.asarray(member.sum(axis=1)).ravel()  # |N(s)|
    item_sessions = np.asarray(member.sum(axis=0)).ravel()  # |N(v)|
    inv_size = sp.diags(1.0 / np.maximum(session_size, 1.0))
    co = (member.T @ inv_size @ member).tocsr()
    co.setdiag(0.0)
    co.eliminate_zeros()
    co = co.tocoo()
    norm = np.sqrt(item_sessions[co.row] * item_sessions[co.col])
    return sp.csr_matrix((co.data / norm, (co.row, co.col)), shape=(n_items, n_items))


def similar_edges(
    scores: sp.spmatrix,
    neighbour_src: np.ndarray,
    neighbour_dst: np.ndarray,
    n_items: int,
    similar_top_k: int,
) -> EdgeTriple:
    """Eq. 1-3: the ``r_similar`` edges of every item.

    For item v: rank the items co-occurring with v by Eq. 1 score (ties: smaller id first), keep
    the first ``K'_v = min(K, |N_v|)`` (Eq. 2), where ``N_v`` (Eq. 3) is the set of DISTINCT
    items joined to v by a kept (after top-S) "in" or "out" edge of v; then drop those in
    ``N_v`` ("we only keep the former edge"). The cut comes before the drop, as in the official
    code (``i2i_sim[v][:topK][:len(exclusion)]`` then ``if vid not in exclusion``), so v gets at
    most ``K'_v`` similar edges; an item with no in/out edge gets none.

    Args:
        scores: ``[n_items, n_items]`` Eq. 1 scores (:func:`cooccurrence_scores`).
        neighbour_src, neighbour_dst: the kept "in" and "out" edges together, ``[E]`` each.
        n_items: number of item ids.
        similar_top_k: K (>= 1).

    Returns:
        ``(src, dst, weight)``: dst is a similar item of src, weight its Eq. 1 score.

    Raises:
        ValueError: ``similar_top_k`` < 1 (names ``similar_top_k``).
    """
    k = _check_top(similar_top_k, "similar_top_k")
    neighbour_src = np.asarray(neighbour_src, dtype=np.int64)
    neighbour_dst = np.asarray(neighbour_dst, dtype=np.int64)
    pairs = np.unique(np.stack([neighbour_src, neighbour_dst], axis=1), axis=0)
    degree = np.bincount(pairs[:, 0], minlength=n_items) if len(pairs) else np.zeros(n_items)
    cap = np.minimum(k, degree).astype(np.int64)
    co = sp.coo_matrix(scores)
    src, dst, weight = keep_top_per_node(co.row, co.col, co.data, cap)
    if len(pairs) and len(src):
        joined = np.isin(src * n_items + dst, pairs[:, 0] * n_items + pairs[:, 1])
        src, dst, weight = src[~joined], dst[~joined], weight[~joined]
    return src, dst, weight


def build_global_graph(
    session: np.ndarray,
    user: np.ndarray,
    item: np.ndarray,
    *,
    n_users: int,
    n_items: int,
    transition_top_s: int = 12,
    similar_top_k: int = 20,
) -> GlobalGraph:
    """Build the heterogeneous global graph from the TRAINING sessions (section 4.2).

    * "out" (v -> items following v) and "in" (v -> items preceding v): weight = the transition's
      frequency over all training sessions; each node keeps its top-``transition_top_s`` edges
      per direction (ties: smaller neighbour id). Before the cut "in" is "out" reversed.
    * "similar": :func:`similar_edges` (Eq. 1-3), computed on the same sessions.
    * "interact" (user -> item) and "interacted_by" (item -> user): one edge per distinct
      (user, item) pair of the training interactions, weight = the number of such interactions
      (the paper gives no weight; Eq. 4 averages over neighbours, so the default
      :func:`edge_matrix` ignores it; the official code adds one multi-edge per interaction,
      which is this count). No top cut.

    Args:
        session: session id of every training interaction, ``[N]``, a session's rows contiguous
            and in time order (``SessionSplit.train["session"]``).
        user: user id of every training interaction, ``[N]``, in ``1..n_users-1``.
        item: item id of every training interaction, ``[N]``, in ``1..n_items-1``.
        n_users, n_items: numbers of ids, padding 0 included.
        transition_top_s: S, kept in/out edges per node and direction (>= 1; official 12).
        similar_top_k: K of Eq. 2 (>= 1; official 20).

    Returns:
        A :class:`GlobalGraph`.

    Raises:
        ValueError: ``transition_top_s`` / ``similar_top_k`` < 1, arrays of different lengths,
            or an id out of range (0 is padding and is refused).
    """
    s = _check_top(transition_top_s, "transition_top_s")
    _check_top(similar_top_k, "similar_top_k")
    session = np.asarray(session)
    user = np.asarray(user, dtype=np.int64)
    item = np.asarray(item, dtype=np.int64)
    if not (session.shape == user.shape == item.shape) or item.ndim != 1:
        raise ValueError(
            f"session, user and item must be 1-D of one length, got {session.shape}, "
            f"{user.shape}, {item.shape}"
        )
    if len(item) and (item.min() < 1 or item.max() >= n_items):
        raise ValueError(f"item ids must lie in 1..n_items-1 = 1..{n_items - 1}")
    if len(user) and (user.min() < 1 or user.max() >= n_users):
        raise ValueError(f"user ids must lie in 1..n_users-1 = 1..{n_users - 1}")

    a, b, count = transition_counts(session, item)
    out_edges = keep_top_per_node(a, b, count, s)
    in_edges = keep_top_per_node(b, a, count, s)
    neighbour_src = np.concatenate([out_edges[0], in_edges[0]])
    neighbour_dst = np.concatenate([out_edges[1], in_edges[1]])
    scores = cooccurrence_scores(session, item, n_items)
    similar = similar_edges(scores, neighbour_src, neighbour_dst, n_items, similar_top_k)

    ui, ui_count = np.unique(np.stack([user, item], axis=1), axis=0, return_counts=True)
    if len(ui) == 0:
        ui = np.zeros((0, 2), dtype=np.int64)
    ui_weight = ui_count.astype(np.float64)
    interact = keep_top_per_node(ui[:, 0], ui[:, 1], ui_weight, len(ui) + 1)
    interacted_by = keep_top_per_node(ui[:, 1], ui[:, 0], ui_weight, len(ui) + 1)
    return GlobalGraph(
        n_users=int(n_users),
        n_items=int(n_items),
        edges={
            "in": in_edges,
            "out": out_edges,
            "similar": similar,
            "interact": interact,
            "interacted_by": interacted_by,
        },
    )


def edge_matrix(
    graph: GlobalGraph,
    edge_type: str,
    *,
    weighted: bool = False,
    layout: str = "csr",
    shared_index: bool = False,
) -> torch.Tensor:
    """One edge type as a row-normalised sparse matrix M, so ``M @ X`` is Eq. 4's mean.

    ``M[src, dst] = 1 / deg(src)`` (Eq. 4: the plain mean over the type's neighbours), or with
    ``weighted=True`` ``weight / sum of src's weights`` (a frequency-weighted mean). A node
    without edges of the type has an all-zero row (its aggregate is 0).

    Index spaces: by default each node kind has its own (what the model needs: one embedding
    table per kind): "in"/"out"/"similar" are ``[n_items, n_items]``, "interact"
    ``[n_users, n_items]`` (``M @ item_emb`` gives users), "interacted_by" ``[n_items, n_users]``
    (``M @ user_emb`` gives items). With ``shared_index=True`` every matrix is
    ``[n_items + n_users]`` square, items first (``0..n_items-1``) then users (user u at
    ``n_items + u``), for a model that keeps one stacked embedding table.

    Args:
        graph: a :class:`GlobalGraph`.
        edge_type: one of :data:`EDGE_TYPES`.
        weighted: use the edge weights instead of the plain mean.
        layout: ``"csr"`` (``torch.sparse_csr_tensor``) or ``"coo"`` (coalesced
            ``torch.sparse_coo_tensor``).
        shared_index: one index space for items and users (see above).

    Returns:
        float32 sparse tensor of shape :meth:`GlobalGraph.shape`.

    Raises:
        ValueError: unknown ``edge_type`` (lists the valid names) or ``layout``.
    """
    src, dst, weight = graph.edge(edge_type)
    if layout not in ("csr", "coo"):
        raise ValueError(f'layout must be "csr" or "coo", got {layout!r}')
    shape = graph.shape(edge_type, shared_index)
    if shared_index:
        if edge_type == "interact":
            src = src + graph.n_items
        elif edge_type == "interacted_by":
            dst = dst + graph.n_items
    values = weight if weighted else np.ones(len(src))
    row_sum = np.bincount(src, weights=values, minlength=shape[0])
    values = values / row_sum[src] if len(src) else values
    matrix = sp.csr_matrix((values, (src, dst)), shape=shape)
    matrix.sort_indices()
    if layout == "coo":
        coo = matrix.tocoo()
        indices = torch.from_numpy(np.stack([coo.row, coo.col]).astype(np.int64))
        values_t = torch.from_numpy(coo.data.astype(np.float32))
        return torch.sparse_coo_tensor(
            indices, values_t, size=shape, check_invariants=False
        ).coalesce()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr.astype(np.int64)),
            torch.from_numpy(matrix.indices.astype(np.int64)),
            torch.from_numpy(matrix.data.astype(np.float32)),
            size=shape,
            check_invariants=False,
        )
