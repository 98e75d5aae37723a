"""The plain reference of HUGT's encoder: every head's score bias written out as a tensor.

This is the implementation the fused path of :mod:`recbole_hug.model.layers` replaced, kept as
the reference it must agree with (``tests/model/test_fused_attention.py``): per block, one
``[B, H, L, L]`` bias (the causal mask plus ``psi(p_i, p_j)`` for sequence heads; 0 / ``-inf``
of the collaborative neighbours for MP heads; ``phi(s_ij)`` plus the causal mask for SE heads),
and the attention ``softmax(q_i^T k_j / sqrt(d_h) + bias_ij) v_j`` by explicit matrix products.
It runs on a :class:`~recbole_hug.model.hugt.HUGT`'s own parameters.
"""

from __future__ import annotations

import math

import torch

from recbole_hug.graph.hug import graph_attention_mask, knn_predecessor_edges, shortest_path_lengths


def _position_scores(attention, positions: torch.Tensor) -> torch.Tensor:
    """``[L, d]`` position embeddings -> ``[H_seq, L, L]`` scores ``psi(p_i, p_j)``."""
    length = positions.shape[0]
    left, right = attention.psi(positions).view(length, 2, attention.n_seq, -1).unbind(1)
    return torch.einsum("ihd,jhd->hij", left, right) / math.sqrt(attention.head_size)


def attention_bias(attention, causal, positions, graph, batch: int) -> torch.Tensor:
    """What each head adds to ``q_i^T k_j / sqrt(d_h)``: ``[B, H, L, L]``, ``-inf`` = masked."""
    length = causal.shape[0]
    biases = []
    if attention.n_seq:
        seq_bias = causal.expand(attention.n_seq, length, length)
        if attention.psi is not None:
            seq_bias = seq_bias + _position_scores(attention, positions)
        biases.append(seq_bias.unsqueeze(0).expand(batch, -1, -1, -1))
    if attention.n_graph:
        if graph.dtype == torch.bool:
            allowed = torch.zeros(graph.shape, dtype=causal.dtype).masked_fill(~graph, -math.inf)
            biases.append(allowed.unsqueeze(1).expand(-1, attention.n_graph, -1, -1))
        else:
            biases.append(graph)
    return torch.cat(biases, dim=1) if len(biases) > 1 else biases[0]


def reference_attention(attention, x, causal, positions, graph) -> torch.Tensor:
    """``[B, L, d]`` -> ``[B, L, d]`` by explicit scores (no attention dropout)."""
    batch, length, _ = x.shape
    q, k, v = (
        attention.qkv(x)
        .view(batch, length, 3, attention.n_heads, attention.head_size)
        .permute(2, 0, 3, 1, 4)
    )
    scores = q @ k.transpose(-1, -2) / math.sqrt(attention.head_size)
    scores = scores + attention_bias(attention, causal, positions, graph, batch)
    context = torch.softmax(scores, dim=-1) @ v
    return attention.out(context.transpose(1, 2).reshape(batch, length, -1))


def reference_forward(model, item_seq: torch.Tensor) -> torch.Tensor:
    """A :class:`HUGT`'s ``forward`` through :func:`reference_attention`: ``[B, L, d]``."""
    length = item_seq.shape[1]
    positions = model.position_embedding.weight[:length]
    x = model.item_embedding(item_seq)
    if not model.relative:
        x = x + positions.unsqueeze(0)
    x = model.embedding_dropout(model.embedding_norm(x))
    causal = torch.full((length, length), -math.inf).triu(1)
    graph = None
    if model.uses_graph:
        with torch.no_grad():
            edges = knn_predecessor_edges(item_seq, model.svd_item_embeddings, model.hug_k)
            if model.graph_mode == "MP":
                graph = graph_attention_mask(edges)
            else:
                lengths = shortest_path_lengths(edges, model.spatial_clip)
        if model.graph_mode == "SE":
            graph = model.spatial_encoding(lengths).permute(0, 3, 1, 2) + causal
    for block in model.blocks:
        relative = positions if model.relative else None
        attended = reference_attention(block.attention, x, causal, relative, graph)
        x = block.attention_norm(x + block.dropout(attended))
        x = block.feed_forward_norm(x + block.dropout(block.feed_forward(x)))
    return x
