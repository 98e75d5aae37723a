"""Where HUG edges are built.

Pure functions that turn a batch of RecBole item sequences into the Heterogeneous User Graph
(HUG) of *Heterogeneous User Graph Transformer* (HUGT), section 3 ("Heterogeneous User Graph")
and section 4.4 ("Graph Modeling").

A HUG ``G = (V, {E_seq, E_sim})`` has one node per position of the user's sequence. The
sequential edges ``E_seq`` are the chronological order itself (``t_j < t_i``); they need no
construction here, they are the causal attention mask of the sequential heads. The
collaborative edges ``E_sim`` link every item to its ``k`` most similar predecessors, similarity
being the cosine of truncated-SVD item embeddings of the user-item matrix ``R``.

Map from the paper to this module:

* section 3, "Collaborative Edges", truncated SVD of ``R in {0,1}^{|U| x |I|}`` giving item
  embeddings ``V in R^{d x |I|}``: :func:`svd_item_embeddings` (config option ``svd_dim`` is
  ``d``);
* section 3, "Each item is connected to its k-nearest predecessors": :func:`knn_predecessor_edges`
  (config option ``hug_k`` is ``k``);
* section 4.4, "Message Passing", Eq. 1 with ``N(i) = {j | (i, j) in E_sim}`` (HUGT-MP):
  :func:`graph_attention_mask`;
* section 4.4, "Graph Spatial Encoding", shortest-path length ``s_ij`` over collaborative edges
  clipped to ``S`` (HUGT-SE, the ``phi(s_ij)`` attention bias): :func:`shortest_path_lengths`
  (config option ``spatial_clip`` is ``S``); section 4.7 precomputes it in ``O(n^3)``, here it
  is a batched, causal, clipped BFS by boolean matrix products.

Conventions shared by all functions: positions are indexed ``0 .. L-1`` left to right (oldest
first); item id ``0`` is RecBole's padding id (RecBole pads sequences on the right, but padding is
handled wherever it occurs); adjacency tensors are ``[B, L, L]`` with ``adj[b, i, j]`` meaning
"position ``i`` is linked to position ``j``"; every function is causal: row ``i`` of any output
depends only on positions ``<= i``, so a model may use them under a causal (SASRec-style) mask
without leaking the future.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.extmath import randomized_svd

__all__ = [
    "graph_attention_mask",
    "knn_predecessor_edges",
    "shortest_path_lengths",
    "svd_item_embeddings",
]


def _check_positive_int(value: object, name: str) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= 1``, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def svd_item_embeddings(
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    n_users: int,
    n_items: int,
    dim: int,
    seed: int = 0,
    scaled: bool = False,
) -> np.ndarray:
    """Item embeddings for collaborative similarity: truncated SVD of the user-item matrix.

    Paper, section 3 ("Collaborative Edges"): a truncated SVD of the binary user-item matrix
    ``R in {0,1}^{|U| x |I|}`` gives item embeddings ``V in R^{d x |I|}``; item-item collaborative
    similarity is the cosine of these embeddings.

    Details:

    * ``R[u, i] = 1`` iff the pair ``(u, i)`` occurs at least once among the given
      interactions (duplicates count once). Only the given interactions are used: the caller
      passes the training split, so validation/test interactions never shape the graph.
    * ``R`` is *not* centred (the paper says truncated SVD of ``R``, not PCA), so the sparse
      matrix is decomposed as is.
    * ``R ~= U diag(s) V^T`` is computed with scikit-learn's randomized SVD (the routine behind
      ``TruncatedSVD``), deterministic for a given ``seed``. The embedding of item ``i`` is row
      ``i`` of ``V`` (the right singular vectors, *not* scaled by ``s``), i.e. the paper's ``V``,
      which is ``TruncatedSVD.components_``. With ``scaled`` the row is ``V[i] * s`` instead
      (the item factors of ``R ~= (U) (diag(s) V^T)``, what ``TruncatedSVD.transform`` of the
      item-user matrix gives): an ablation of this reading, option ``svd_scaled``.
    * Rows are L2-normalised so cosine similarity is a plain dot product. Row 0 (RecBole's
      padding item) and rows of items without any given interaction are exactly zero, so their
      similarity with everything is 0.

    Args:
        user_ids: ``[T]`` integer user ids of the training interactions, in ``[1, n_users)``
            (0 is RecBole's padding user).
        item_ids: ``[T]`` integer item ids of the same interactions, in ``[1, n_items)``.
        n_users: RecBole's ``dataset.user_num`` (counts the padding user 0).
        n_items: RecBole's ``dataset.item_num`` (counts the padding item 0).
        dim: number of SVD components, config option ``svd_dim``. Allowed values:
            ``1 <= svd_dim <= min(n_users - 1, n_items - 2)``. That is, strictly fewer
            components than real items ``n_items - 1`` (with ``svd_dim`` equal to the number of
            real items ``V`` is orthogonal and every pair of distinct items has cosine 0: no
            collaborative signal is left), and at most the number of real users ``n_users - 1``
            (the rank bound of ``R``: further components are not defined by the data).
        seed: random state of the randomized SVD.
        scaled: scale each component by its singular value before the normalisation.

    Returns:
        ``[n_items, dim]`` float32 array with unit-norm or zero rows; row 0 is zero.

    Raises:
        ValueError: ``dim`` (named ``svd_dim``) out of range, ids out of range, mismatched
            shapes.
    """
    user_ids = np.asarray(user_ids)
    item_ids = np.asarray(item_ids)
    if user_ids.ndim != 1 or item_ids.ndim != 1 or user_ids.shape != item_ids.shape:
        raise ValueError(
            "user_ids and item_ids must be 1-D arrays of the same length, got shapes "
            f"{user_ids.shape} and {item_ids.shape}"
        )
    if not (
        np.issubdtype(user_ids.dtype, np.integer) and np.issubdtype(item_ids.dtype, np.integer)
    ):
        if user_ids.size or item_ids.size:
            raise ValueError(
                f"user_ids and item_ids must be integer arrays, got {user_ids.dtype} and "
                f"{item_ids.dtype}"
            )
        user_ids = user_ids.astype(np.int64)
        item_ids = item_ids.astype(np.int64)
    n_users = int(n_users)
    n_items = int(n_items)
    max_dim = min(n_users - 1, n_items - 2)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 1 <= dim <= max_dim:
        raise ValueError(
            f"svd_dim must be an integer with 1 <= svd_dim <= min(n_users - 1, n_items - 2) = "
            f"{max_dim} (n_users={n_users} and n_items={n_items} count RecBole's padding id 0; "
            f"svd_dim must be below the number of real items and at most the number of real "
            f"users), got {dim!r}"
        )
    dim = int(dim)
    if user_ids.size and (user_ids.min() < 1 or user_ids.max() >= n_users):
        raise ValueError(
            f"user ids must lie in [1, n_users) = [1, {n_users}) (0 is padding), got range "
            f"[{user_ids.min()}, {user_ids.max()}]"
        )
    if item_ids.size and (item_ids.min() < 1 or item_ids.max() >= n_items):
        raise ValueError(
            f"item ids must lie in [1, n_items) = [1, {n_items}) (0 is padding), got range "
            f"[{item_ids.min()}, {item_ids.max()}]"
        )

    # Binary R: coo -> csr sums duplicates, so clip them back to 1.
    matrix = sp.csr_matrix(
        (np.ones(user_ids.size, dtype=np.float64), (user_ids, item_ids)),
        shape=(n_users, n_items),
    )
    matrix.data = np.minimum(matrix.data, 1.0)

    _, singular, vt = randomized_svd(matrix, n_components=dim, random_state=seed)
    emb = np.ascontiguousarray(vt.T, dtype=np.float64)  # [n_items, dim]
    if scaled:
        emb *= singular[None, :]

    has_interaction = np.zeros(n_items, dtype=bool)
    has_interaction[item_ids] = True
    has_interaction[0] = False
    emb[~has_interaction] = 0.0
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    emb = np.divide(emb, norms, out=np.zeros_like(emb), where=norms > 0)
    return emb.astype(np.float32)


def knn_predecessor_edges(item_seq: torch.Tensor, item_emb: torch.Tensor, k: int) -> torch.Tensor:
    """Collaborative edges of the HUG: each item linked to its ``k`` most similar predecessors.

    Paper, section 3 ("Collaborative Edges"): "Each item is connected to its k-nearest
    predecessors", similarity being the cosine of the item embeddings.

    ``adj[b, i, j]`` is True iff ``j < i``, neither ``item_seq[b, i]`` nor ``item_seq[b, j]`` is
    the padding id 0, and ``j`` is among the ``k`` non-padding predecessors of ``i`` with the
    highest cosine similarity to ``item_seq[b, i]``; when ``i`` has fewer than ``k``
    non-padding predecessors, it is linked to all of them. So every non-padding position has
    exactly ``min(k, #non-padding positions before it)`` edges, all pointing back in time.

    Decisions:

    * Predecessors are strictly earlier positions (``j < i``). The paper writes
      ``t_j <= t_i``; counting position ``i`` itself would spend one of the ``k`` slots on the
      trivial self-match (cosine 1). The self relation is instead the self loop of
      :func:`graph_attention_mask` (MP) and the zero diagonal of :func:`shortest_path_lengths`
      (SE).
    * Ties (exactly equal similarity) are broken deterministically in favour of the nearer
      predecessor, i.e. the larger ``j``.
    * Repeated items: an earlier position holding the same item has cosine 1, the maximum, and
      is kept as a (most similar) neighbour; several earlier copies tie and the nearest wins.
    * Items whose embedding row is zero (padding, items unseen in training) have similarity 0 to
      everything; they may still be linked if they are among the ``k`` best.
    * Row ``i`` depends only on positions ``<= i``: the graph of a prefix is the prefix of the
      graph.

    Embedding rows are L2-normalised here (zero rows stay zero), so any embedding table works;
    the output of :func:`svd_item_embeddings` is already normalised. Fully vectorised: one
    batched matrix product, one ``topk`` (for the k-th largest similarity) and a few elementwise
    passes per call, on ``item_seq``'s device (``item_emb`` is moved there if needed).

    Args:
        item_seq: ``[B, L]`` long tensor of item ids, 0 = padding.
        item_emb: ``[n_items, d]`` float tensor of item embeddings (row 0 = padding).
        k: number of collaborative neighbours per item, config option ``hug_k``, ``>= 1``.

    Returns:
        ``[B, L, L]`` bool tensor, strictly lower triangular in ``(i, j)``.

    Raises:
        ValueError: ``k`` (named ``hug_k``) is not an integer ``>= 1``, or bad tensor ranks.
    """
    k = _check_positive_int(k, "hug_k (k)")
    if item_seq.dim() != 2:
        raise ValueError(f"item_seq must be [B, L], got shape {tuple(item_seq.shape)}")
    if item_emb.dim() != 2:
        raise ValueError(f"item_emb must be [n_items, d], got shape {tuple(item_emb.shape)}")
    device = item_seq.device
    _, seq_len = item_seq.shape

    emb = item_emb.to(device)
    if not emb.is_floating_point():
        emb = emb.float()
    # Normalise the table (not the gathered copies) so equal ids get bitwise-equal vectors.
    emb = torch.nn.functional.normalize(emb, p=2.0, dim=1)
    seq_emb = emb[item_seq]  # [B, L, d]
    sim = torch.bmm(seq_emb, seq_emb.transpose(1, 2))  # [B, L, L], sim[b, i, j]

    real = item_seq != 0  # [B, L]
    earlier = torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril(-1)
    valid = earlier.unsqueeze(0) & real.unsqueeze(2) & real.unsqueeze(1)  # [B, L, L]

    k_eff = min(k, seq_len)
    if k_eff == 0:
        return valid  # L == 0: empty
    # Exact top-k with deterministic ties, without relying on topk's (unspecified) index order:
    # tau = k-th largest similarity of the row; take everything strictly above tau, then fill the
    # remaining slots with the ties at tau, nearest (largest j) first.
    key = sim.masked_fill(~valid, float("-inf"))
    tau = key.topk(k_eff, dim=-1).values[..., -1:]  # [B, L, 1]
    above = key > tau  # with fewer than k valid predecessors tau = -inf: all valid ones
    tie = (key == tau) & valid
    count = torch.int16 if seq_len < 2**15 else torch.int32  # narrow ints: cumsum is the hot spot
    slots = k_eff - above.sum(-1, keepdim=True, dtype=count)  # [B, L, 1]
    ties_from_right = tie.flip(-1).cumsum(-1, dtype=count).flip(-1)  # ties at positions >= j
    return valid & (above | (tie & (ties_from_right <= slots)))


def _reachability_dtype(device: torch.device, seq_len: int) -> torch.dtype:
    """The matrix-product dtype of the BFS: only ``> 0`` of sums of 0/1 terms is read, which no
    rounding changes (a positive sum never rounds to 0), so the fastest exact-enough type: half
    precision on GPU (``L <= 2048``), bfloat16 on a CPU with bfloat16 matrix units (AMX /
    AVX512-BF16, through oneDNN), else float32."""
    if device.type == "cuda" and seq_len <= 2048:
        return torch.float16
    if device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return torch.float32


def shortest_path_lengths(adj: torch.Tensor, clip: int) -> torch.Tensor:
    """Causal, clipped shortest-path lengths over the collaborative edges (HUGT-SE).

    Paper, section 4.4 ("Graph Spatial Encoding"): ``s_ij`` is the length of the shortest path
    between ``i`` and ``j`` via collaborative edges, clipped to an upper bound ``S`` ("a length
    larger than S will be set to S", which also encodes disconnected pairs). ``clip`` is ``S``,
    config option ``spatial_clip``.

    The edges are taken as undirected (``adj | adj^T``). For row ``i`` only positions ``<= i``
    exist: a path from ``i`` to ``j <= i`` may pass only through positions ``<= i``, so
    ``out[b, i]`` depends only on ``adj[b, :i+1, :i+1]`` (a path ``i -> m -> j`` with ``m > i``
    would leak the future into position ``i``'s attention bias). Hence the result is *not*
    symmetric: ``out[b, i, j]`` for ``j < i`` is the distance in the prefix graph of
    positions ``0..i``.

    Values: ``out[b, i, i] = 0``; for ``j < i`` the distance ``1 .. clip - 1``, or ``clip``
    when the distance is ``>= clip`` or ``j`` is unreachable; for ``j > i`` always ``clip``
    (those entries are masked by the causal attention anyway, the value only keeps the bias
    lookup in range). Padding positions have no edges, so they are at distance ``clip`` from
    everything but themselves. Entries are in ``[0, clip]``: an embedding table with
    ``clip + 1`` rows covers them.

    Implementation: a BFS from every position at once by repeated matrix products,
    ``frontier_t = (frontier_{t-1} @ A) & tril & ~visited``, ``clip - 1`` steps (paths of length
    ``clip`` or more all map to ``clip``; the first step needs no product), vectorised over the
    batch, on ``adj``'s device. Cost ``O(B * L^3 * (clip - 2))`` multiply-adds.

    Args:
        adj: ``[B, L, L]`` bool adjacency, e.g. from :func:`knn_predecessor_edges`.
        clip: the upper bound ``S``, config option ``spatial_clip``, ``>= 1``.

    Returns:
        ``[B, L, L]`` long tensor of clipped path lengths.

    Raises:
        ValueError: ``clip`` (named ``spatial_clip``) is not an integer ``>= 1``, or ``adj``
            is not ``[B, L, L]``.
    """
    clip = _check_positive_int(clip, "spatial_clip (clip)")
    if adj.dim() != 3 or adj.shape[1] != adj.shape[2]:
        raise ValueError(f"adj must be [B, L, L], got shape {tuple(adj.shape)}")
    device = adj.device
    batch, seq_len, _ = adj.shape
    adj = adj.bool()

    dtype = _reachability_dtype(device, seq_len)
    undirected_bool = adj | adj.transpose(1, 2)  # [B, L, L]
    undirected = undirected_bool.to(dtype)
    lower = torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()  # j <= i
    eye = torch.eye(seq_len, dtype=torch.bool, device=device).expand(batch, seq_len, seq_len)

    dist = torch.full((batch, seq_len, seq_len), clip, dtype=torch.long, device=device)
    dist.masked_fill_(eye, 0)
    visited = eye.clone()
    frontier = eye.to(dtype)
    for step in range(1, clip):
        # Step 1 starts from the identity: its product is the adjacency itself.
        reached = undirected_bool if step == 1 else torch.bmm(frontier, undirected) > 0
        new = reached & lower & ~visited
        dist.masked_fill_(new, step)
        visited |= new
        frontier = new.to(dtype)
    return dist


def graph_attention_mask(adj: torch.Tensor, self_loop: bool = True) -> torch.Tensor:
    """Allowed attention of the message-passing heads (HUGT-MP).

    Paper, section 4.4 ("Message Passing"): Eq. 1 (generalised self-attention) over the graph
    ``(V, E_sim)`` with ``N(i) = {j | (i, j) in E_sim}``: position ``i`` attends to its
    collaborative neighbours. Here ``mask[b, i, j]`` is True iff ``j <= i`` and ``i`` and ``j``
    are joined by a collaborative edge in either direction (``adj | adj^T``), or ``j == i`` when
    ``self_loop``.

    Self loop: the paper's ``N(i)`` lists only collaborative neighbours and is silent on a self
    loop. It is included by default because (a) the first item of a sequence (and every
    padding position) has no predecessor at all, and a softmax over an empty set is undefined
    (NaN); (b) GAT, which the paper says Eq. 1 implements, adds self loops; (c) with the paper's
    ``t_j <= t_i`` reading of "predecessors", an item's own position is its nearest
    predecessor anyway. Pass ``self_loop=False`` for the literal ``N(i)`` (rows may then be
    empty: the caller must handle them).

    For edges from :func:`knn_predecessor_edges` (strictly lower triangular) this is
    ``adj | eye``; the symmetrisation only matters for other adjacency sources, and the
    ``j <= i`` mask keeps it causal in every case.

    Args:
        adj: ``[B, L, L]`` bool adjacency.
        self_loop: add ``i -> i``.

    Returns:
        ``[B, L, L]`` bool tensor, lower triangular (diagonal included when ``self_loop``).
    """
    if adj.dim() != 3 or adj.shape[1] != adj.shape[2]:
        raise ValueError(f"adj must be [B, L, L], got shape {tuple(adj.shape)}")
    seq_len = adj.shape[1]
    adj = adj.bool()
    lower = torch.ones(seq_len, seq_len, dtype=torch.bool, device=adj.device).tril(-1)
    mask = (adj | adj.transpose(1, 2)) & lower
    if self_loop:
        mask = mask | torch.eye(seq_len, dtype=torch.bool, device=adj.device)
    return mask
