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

- sequence heads: without ``psi`` (absolute positions), the kernel's own causal mask (no bias
  tensor); with ``psi``, one ``[1, H_seq, L, L]`` float bias ``psi(p_i, p_j)``, ``-inf`` after
  ``i``, broadcast over the batch. In training it carries ``psi``'s gradient, so PyTorch takes
  its unfused path: folding ``psi`` into the queries and keys (``q' = [q, p U]``,
  ``k' = [k, p W]``, fused, causal) is exact too, but doubles the heads' width, and measured
  slower on this CPU (BENCHMARKS.md); without gradients (evaluation) the bias is fused.
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

    def _project(
        self, x: torch.Tensor, heads: slice, rows: torch.Tensor | None
    ) -> tuple[torch.Tensor, ...]:
        """Queries, keys and values of ``heads``: ``[B, h, L_q, d_h]`` (``L_q`` 1 with
        ``rows``, else ``L``) and two ``[B, h, L, d_h]``. Each group of heads is projected by
        its own rows of ``qkv`` (slicing the weight, not the activations, keeps the backward
        pass free of full-size zero-filled gradients)."""
        batch, length, hidden = x.shape
        weight = self.qkv.weight.view(3, self.n_heads, self.head_size, hidden)[:, heads]
        bias = self.qkv.bias.view(3, self.n_heads, self.head_size)[:, heads]
        n = weight.shape[1]
        projected = F.linear(x, weight.reshape(-1, hidden), bias.reshape(-1))
        q, k, v = projected.view(batch, length, 3, n, self.head_size).permute(2, 0, 3, 1, 4)
        if rows is not None:
            q = q[torch.arange(batch, device=x.device), :, rows].unsqueeze(2)
        return q, k, v

    def _graph_heads(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        graph: torch.Tensor,
        rows: torch.Tensor | None,
    ) -> torch.Tensor:
        """MP heads through their boolean mask, SE heads through their float bias."""
        mask = graph if graph.dtype == torch.bool else graph.to(q.dtype)
        if rows is not None:
            mask = mask[torch.arange(len(rows), device=rows.device), :, rows].unsqueeze(2)
        dropout = self.attn_dropout if self.training else 0.0
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)

    def position_scores(self, positions: torch.Tensor) -> torch.Tensor:
        """Section 4.3: ``[L, d]`` position embeddings -> ``[H_seq, L, L]`` ``psi(p_i, p_j)``."""
        length = positions.shape[0]
        left, right = self.psi(positions).view(length, 2, self.n_seq, self.head_size).unbind(1)
        return torch.einsum("ihd,jhd->hij", left, right) / math.sqrt(self.head_size)

    def _sequence_heads(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        positions: torch.Tensor | None,
        rows: torch.Tensor | None,
    ) -> torch.Tensor:
        """Causal attention of ``[B, H_seq, L_q, d_h]`` queries over ``[B, H_seq, L, d_h]`` keys,
        plus ``psi``: the kernel's own causal mask without ``psi``, else one float bias
        ``psi(p_i, p_j)`` (``-inf`` after ``i``) shared by the batch (module docstring)."""
        dropout = self.attn_dropout if self.training else 0.0
        if rows is None and self.psi is None:
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        length = k.shape[2]
        keys = torch.arange(length, device=k.device)
        queries = keys.unsqueeze(1) if rows is None else rows.view(-1, 1, 1, 1)
        bias = torch.zeros((), dtype=q.dtype, device=q.device).masked_fill(
            keys > queries, float("-inf")
        )  # [L, L] or [B, 1, 1, L]
        if self.psi is not None:
            scores = self.position_scores(positions).to(q.dtype)  # [H_seq, L, L]
            # [1, H_seq, L, L], not [H_seq, L, L]: the same broadcast, but the CPU kernel
            # takes a 3-d mask 4x slower (BENCHMARKS.md, "HUGT's position bias")
            scores = scores[None] if rows is None else scores[:, rows].transpose(0, 1)[:, :, None]
            bias = bias + scores
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout)

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor | None,
        graph: torch.Tensor | None,
        rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend.

        Args:
            x: ``[B, L, d]`` inputs.
            positions: ``[L, d]`` position embeddings (relative encoding), or None.
            graph: graph heads' input: the ``[B, 1, L, L]`` bool allowed pairs (MP), or the
                ``[B, H_graph, L, L]`` float bias ``phi(s_ij)``, ``-inf`` after ``i`` (SE); None
                without graph heads.
            rows: ``[B]`` one position per sequence whose output alone is wanted (the last block
                of an evaluation), or None for every position.

        Returns:
            ``[B, L, d]``, or ``[B, 1, d]`` with ``rows``.
        """
        contexts = []
        if self.n_seq:
            q, k, v = self._project(x, slice(0, self.n_seq), rows)
            contexts.append(self._sequence_heads(q, k, v, positions, rows))
        if self.n_graph:
            q, k, v = self._project(x, slice(self.n_seq, None), rows)
            contexts.append(self._graph_heads(q, k, v, graph, rows))
        batch = x.shape[0]
        context = torch.cat(contexts, dim=1) if len(contexts) > 1 else contexts[0]
        return self.out(context.transpose(1, 2).reshape(batch, context.shape[2], -1))  # Eq. 4


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
        self,
        x: torch.Tensor,
        positions: torch.Tensor | None,
        graph: torch.Tensor | None,
        rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``[B, L, d]`` -> ``[B, L, d]`` (``[B, 1, d]`` with ``rows``); see
        :meth:`HUGAttention.forward`."""
        attended = self.attention(x, positions, graph, rows)
        if rows is not None:
            x = x[torch.arange(len(rows), device=x.device), rows].unsqueeze(1)
        x = self.attention_norm(x + self.dropout(attended))
        return self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))
