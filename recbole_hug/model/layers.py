"""Where the heads are split: HUGT's self-attention block with sequence heads and graph heads.

Heterogeneous User Graph Transformer (HUGT), section 4. One block (Eq. 3) is a generalised
self-attention layer (Eq. 1) whose heads are split into two groups (section 4.5):

- *sequence heads*: causal attention (``N(i) = {j | t_j <= t_i}``) with the relative positional
  score ``psi(p_i, p_j)`` of section 4.3 added to ``pi_ij``, ``psi`` a learnable bilinear form of
  the two positions' embeddings (``(p_i U)^T (p_j W) / sqrt(d_h)``, per head), or nothing when
  the model adds absolute positional embeddings to its input instead;
- *graph heads*, section 4.4: ``MP`` attends only to collaborative neighbours (Eq. 1 with
  ``N(i)`` the HUG neighbours, plus ``i`` itself); ``SE`` attends causally and adds
  ``phi(s_ij)``, a learned scalar per head of the clipped shortest-path length (built once per
  batch by the model and shared by the blocks, as Graphormer's spatial encoding).

The heads' outputs are concatenated and projected (Eq. 4), followed by the point-wise
feed-forward layer (Eq. 2), each with dropout, a residual connection and layer norm (as SASRec).

How each group is computed (the fused kernel of ``F.scaled_dot_product_attention`` wherever the
maths allows; the explicit scores ``q_i^T k_j / sqrt(d_h) + bias_ij`` are the reference in
``tests/model/reference.py``, and ``tests/model/test_fused_attention.py`` checks that both agree):

- sequence heads: ``psi`` is folded into the queries and keys, ``q'_i = [q_i, p_i U]`` and
  ``k'_j = [k_j, p_j W]``, so that ``q'_i^T k'_j / sqrt(d_h)`` is Eq. 1's score plus ``psi``; the
  values are zero-padded to the same width (the fused kernel wants equal widths) and the padding
  is cut from the output. The causal mask is the kernel's own (``is_causal``): no bias tensor.
- MP heads: the ``[B, 1, L, L]`` boolean mask of collaborative neighbours, broadcast over heads.
- SE heads: the ``[B, H_graph, L, L]`` float bias ``phi(s_ij)`` (``-inf`` after ``i``), which
  carries a gradient to ``phi`` in training.

Attention dropout (``attn_dropout``) has no fused CPU kernel: with it, training takes PyTorch's
unfused path (same results, slower; the model logs this once).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


def head_split(config) -> list[tuple[int, int]]:
    """``(sequence heads, graph heads)`` of each block, by the options ``n_heads``,
    ``n_graph_heads``, ``n_layers``, ``fusion`` and ``fusion_depth``.

    ``concurrent``: every block split alike. ``graph_then_sequence`` / ``sequence_then_graph``:
    blocks of one kind, then the other; ``fusion_depth: stacked`` (the default) gives ``n_layers``
    blocks of each kind (``2 * n_layers`` in all), ``fusion_depth: matched`` the same total depth
    as concurrent (``n_layers``: the first ``ceil(n_layers / 2)`` of the first kind).
    """
    n_heads, n_layers = config["n_heads"], config["n_layers"]
    graph, sequence = (0, n_heads), (n_heads, 0)
    if config["fusion"] == "concurrent":
        return [(n_heads - config["n_graph_heads"], config["n_graph_heads"])] * n_layers
    first, second = graph, sequence
    if config["fusion"] == "sequence_then_graph":
        first, second = sequence, graph
    if config["fusion_depth"] == "matched":
        n_first = -(-n_layers // 2)
        return [first] * n_first + [second] * (n_layers - n_first)
    return [first] * n_layers + [second] * n_layers


class HUGAttention(nn.Module):
    """Multi-head attention with ``n_seq_heads`` sequence heads and ``n_graph_heads`` graph heads.

    Args:
        hidden_size: ``d``.
        head_size: the width of each head (the paper's Eq. 4: ``d``; usual: ``d / n_heads``).
        n_seq_heads: sequence heads (the first heads).
        n_graph_heads: graph heads (the last heads).
        relative_positions: add ``psi(p_i, p_j)`` to the sequence heads' scores.
        attn_dropout: dropout on the attention weights.
    """

    def __init__(
        self,
        hidden_size: int,
        head_size: int,
        n_seq_heads: int,
        n_graph_heads: int,
        relative_positions: bool,
        attn_dropout: float,
    ) -> None:
        super().__init__()
        self.n_seq, self.n_graph = n_seq_heads, n_graph_heads
        self.n_heads = n_seq_heads + n_graph_heads
        self.head_size = head_size
        self.qkv = nn.Linear(hidden_size, 3 * self.n_heads * head_size)
        self.out = nn.Linear(self.n_heads * head_size, hidden_size)  # W_o of Eq. 4
        self.attn_dropout = attn_dropout
        seq_width = n_seq_heads * self.head_size
        self.psi = (  # U and W of section 4.3, one pair per sequence head
            nn.Linear(hidden_size, 2 * seq_width, bias=False)
            if relative_positions and n_seq_heads
            else None
        )

    def _project(self, x: torch.Tensor, heads: slice) -> tuple[torch.Tensor, ...]:
        """Queries, keys and values of ``heads``: three ``[B, h, L, d_h]``. Each group of heads
        is projected by its own rows of ``qkv`` (slicing the weight, not the activations, keeps
        the backward pass free of full-size zero-filled gradients)."""
        batch, length, hidden = x.shape
        weight = self.qkv.weight.view(3, self.n_heads, self.head_size, hidden)[:, heads]
        bias = self.qkv.bias.view(3, self.n_heads, self.head_size)[:, heads]
        n = weight.shape[1]
        projected = F.linear(x, weight.reshape(-1, hidden), bias.reshape(-1))
        return projected.view(batch, length, 3, n, self.head_size).permute(2, 0, 3, 1, 4)

    def _sequence_heads(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, positions: torch.Tensor | None
    ) -> torch.Tensor:
        """Causal attention of ``[B, H_seq, L, d_h]`` heads, plus ``psi`` folded into q and k."""
        dropout = self.attn_dropout if self.training else 0.0
        if self.psi is None:
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        batch, _, length, width = q.shape
        # p_i U and p_j W: [L, 2, H_seq, d_h] -> two [B, H_seq, L, d_h]
        left, right = (
            self.psi(positions)
            .to(q.dtype)
            .view(length, 2, self.n_seq, width)
            .permute(1, 2, 0, 3)
            .unsqueeze(1)
            .expand(-1, batch, -1, -1, -1)
        )
        context = F.scaled_dot_product_attention(
            torch.cat([q, left], dim=-1),
            torch.cat([k, right], dim=-1),
            F.pad(v, (0, width)),
            dropout_p=dropout,
            is_causal=True,
            scale=1.0 / math.sqrt(width),
        )
        return context[..., :width]

    def forward(
        self, x: torch.Tensor, positions: torch.Tensor | None, graph: torch.Tensor | None
    ) -> torch.Tensor:
        """Attend.

        Args:
            x: ``[B, L, d]`` inputs.
            positions: ``[L, d]`` position embeddings (relative encoding), or None.
            graph: graph heads' input: the ``[B, 1, L, L]`` bool allowed pairs (MP), or the
                ``[B, H_graph, L, L]`` float bias ``phi(s_ij)``, ``-inf`` after ``i`` (SE); None
                without graph heads.

        Returns:
            ``[B, L, d]``.
        """
        contexts = []
        if self.n_seq:
            q, k, v = self._project(x, slice(0, self.n_seq))
            contexts.append(self._sequence_heads(q, k, v, positions))
        if self.n_graph:
            q, k, v = self._project(x, slice(self.n_seq, self.n_heads))
            mask = graph if graph.dtype == torch.bool else graph.to(q.dtype)
            dropout = self.attn_dropout if self.training else 0.0
            contexts.append(
                F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
            )
        context = torch.cat(contexts, dim=1) if len(contexts) > 1 else contexts[0]
        batch, length, _ = x.shape
        return self.out(context.transpose(1, 2).reshape(batch, length, -1))  # Eq. 4


class HUGBlock(nn.Module):
    """One self-attention block (Eq. 3): attention, then the feed-forward layer (Eq. 2).

    Each sub-layer: ``LayerNorm(x + Dropout(sublayer(x)))``.
    """

    def __init__(
        self,
        attention: HUGAttention,
        hidden_size: int,
        inner_size: int,
        dropout: float,
        activation: str,
        layer_norm_eps: float,
    ) -> None:
        super().__init__()
        self.attention = attention
        self.attention_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.feed_forward = nn.Sequential(
            nn.Linear(hidden_size, inner_size),
            ACTIVATIONS[activation](),
            nn.Linear(inner_size, hidden_size),
        )
        self.feed_forward_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, positions: torch.Tensor | None, graph: torch.Tensor | None
    ) -> torch.Tensor:
        """``[B, L, d]`` -> ``[B, L, d]``; see :meth:`HUGAttention.forward`."""
        x = self.attention_norm(x + self.dropout(self.attention(x, positions, graph)))
        return self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))
