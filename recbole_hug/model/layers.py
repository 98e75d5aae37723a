"""Where the heads are split: HUGT's self-attention block with sequence heads and graph heads.

Heterogeneous User Graph Transformer (HUGT), section 4. One block (Eq. 3) is a generalised
self-attention layer (Eq. 1) whose heads are split into two groups (section 4.5):

- *sequence heads*: causal attention (``N(i) = {j | t_j <= t_i}``) with the relative positional
  score ``psi(p_i, p_j)`` of section 4.3 added to ``pi_ij``, ``psi`` a learnable bilinear form of
  the two positions' embeddings (``(p_i U)^T (p_j W) / sqrt(d_h)``, per head), or nothing when
  the model adds absolute positional embeddings to its input instead;
- *graph heads*, section 4.4: ``MP`` attends only to collaborative neighbours (Eq. 1 with
  ``N(i)`` the HUG neighbours, plus ``i`` itself); ``SE`` attends causally and adds
  ``phi(s_ij)``, a learned scalar per head of the clipped shortest-path length (computed once per
  forward pass by the model and shared by the blocks, as Graphormer's spatial encoding).

The heads' outputs are concatenated and projected (Eq. 4), followed by the point-wise
feed-forward layer (Eq. 2), each with dropout, a residual connection and layer norm (as SASRec).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


def head_split(config) -> list[tuple[int, int]]:
    """``(sequence heads, graph heads)`` of each block, by the options ``n_heads``,
    ``n_graph_heads``, ``n_layers`` and ``fusion`` (concurrent: every block split alike;
    graph_then_sequence / sequence_then_graph: ``n_layers`` blocks of one kind, then the other)."""
    n_heads, n_layers = config["n_heads"], config["n_layers"]
    if config["fusion"] == "graph_then_sequence":
        return [(0, n_heads)] * n_layers + [(n_heads, 0)] * n_layers
    if config["fusion"] == "sequence_then_graph":
        return [(n_heads, 0)] * n_layers + [(0, n_heads)] * n_layers
    return [(n_heads - config["n_graph_heads"], config["n_graph_heads"])] * n_layers


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
        self.psi = (
            nn.Linear(hidden_size, 2 * seq_width, bias=False)
            if relative_positions and n_seq_heads
            else None
        )

    def _position_scores(self, positions: torch.Tensor) -> torch.Tensor:
        """``[L, d]`` position embeddings -> ``[H_seq, L, L]`` scores ``psi(p_i, p_j)``."""
        length = positions.shape[0]
        left, right = self.psi(positions).view(length, 2, self.n_seq, self.head_size).unbind(1)
        return torch.einsum("ihd,jhd->hij", left, right) / math.sqrt(self.head_size)

    def attention_bias(
        self,
        causal_bias: torch.Tensor,
        positions: torch.Tensor | None,
        graph: torch.Tensor | None,
        batch: int,
    ) -> torch.Tensor:
        """What each head adds to ``q_i^T k_j / sqrt(d_h)``: ``[B, H, L, L]``, ``-inf`` = masked.

        Sequence heads (first): the causal mask, plus ``psi(p_i, p_j)``. Graph heads (last): MP
        (a boolean ``graph``), 0 on allowed pairs and ``-inf`` elsewhere; SE, ``graph`` itself.
        Arguments as in :meth:`forward`.
        """
        length = causal_bias.shape[0]
        biases = []
        if self.n_seq:
            seq_bias = causal_bias.expand(self.n_seq, length, length)
            if self.psi is not None:
                seq_bias = seq_bias + self._position_scores(positions)
            biases.append(seq_bias.unsqueeze(0).expand(batch, -1, -1, -1))
        if self.n_graph:
            if graph.dtype == torch.bool:  # MP: only collaborative neighbours (and i itself)
                allowed = torch.zeros(graph.shape, dtype=causal_bias.dtype, device=graph.device)
                allowed = allowed.masked_fill(~graph, float("-inf")).unsqueeze(1)
                biases.append(allowed.expand(-1, self.n_graph, -1, -1))
            else:  # SE: the causal mask plus phi(s_ij), [B, H_graph, L, L]
                biases.append(graph)
        return torch.cat(biases, dim=1) if len(biases) > 1 else biases[0]

    def forward(
        self,
        x: torch.Tensor,
        causal_bias: torch.Tensor,
        positions: torch.Tensor | None,
        graph: torch.Tensor | None,
    ) -> torch.Tensor:
        """Attend.

        Args:
            x: ``[B, L, d]`` inputs.
            causal_bias: ``[L, L]`` float, 0 where ``j <= i``, ``-inf`` elsewhere.
            positions: ``[L, d]`` position embeddings (relative encoding), or None.
            graph: graph heads' input: ``[B, L, L]`` bool allowed pairs (MP), or the
                ``[B, H_graph, L, L]`` float bias ``phi(s_ij)`` plus the causal mask (SE); None
                without graph heads.

        Returns:
            ``[B, L, d]``.
        """
        batch, length, _ = x.shape
        q, k, v = (
            self.qkv(x).view(batch, length, 3, self.n_heads, self.head_size).permute(2, 0, 3, 1, 4)
        )  # each [B, H, L, d_h]
        bias = self.attention_bias(causal_bias, positions, graph, batch).to(q.dtype)
        context = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.attn_dropout if self.training else 0.0
        )  # [B, H, L, d_h]
        return self.out(context.transpose(1, 2).reshape(batch, length, -1))


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
        causal_bias: torch.Tensor,
        positions: torch.Tensor | None,
        graph: torch.Tensor | None,
    ) -> torch.Tensor:
        """``[B, L, d]`` -> ``[B, L, d]``; see :meth:`HUGAttention.forward`."""
        x = self.attention_norm(x + self.dropout(self.attention(x, causal_bias, positions, graph)))
        return self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))
