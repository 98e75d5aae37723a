"""The split of heads: what each head adds to the attention scores, on a hand-made 3-item graph."""

from __future__ import annotations

import torch

from recbole_hug.model.layers import HUGAttention

INF = float("-inf")
CAUSAL = torch.full((3, 3), INF).triu(1)


def _attention(n_seq: int, n_graph: int, mode: str = "MP") -> HUGAttention:
    return HUGAttention(
        8, 4, n_seq, n_graph, mode, spatial_clip=2, relative_positions=False, attn_dropout=0.0
    )


def test_sequence_heads_are_causal_and_mp_heads_follow_the_graph() -> None:
    allowed = torch.tensor([[[True, False, False], [False, True, False], [True, False, True]]])
    bias = _attention(1, 2).attention_bias(CAUSAL, None, allowed, batch=1)
    assert bias.shape == (1, 3, 3, 3)
    assert torch.equal(bias[0, 0], CAUSAL)
    expected = torch.tensor([[0.0, INF, INF], [INF, 0.0, INF], [0.0, INF, 0.0]])
    assert torch.equal(bias[0, 1], expected) and torch.equal(bias[0, 2], expected)


def test_se_heads_add_phi_of_the_path_length_under_the_causal_mask() -> None:
    attention = _attention(0, 1, "SE")
    with torch.no_grad():
        attention.phi.weight.copy_(torch.tensor([[10.0], [20.0], [30.0]]))  # phi(0..2)
    lengths = torch.tensor([[[0, 2, 2], [1, 0, 2], [2, 1, 0]]])
    bias = attention.attention_bias(CAUSAL, None, lengths, batch=1)
    expected = torch.tensor([[10.0, INF, INF], [20.0, 10.0, INF], [30.0, 20.0, 10.0]])
    assert torch.equal(bias[0, 0], expected)


def test_relative_scores_are_added_to_sequence_heads_only() -> None:
    attention = HUGAttention(8, 4, 1, 1, "SE", 2, relative_positions=True, attn_dropout=0.0)
    positions = torch.randn(3, 8)
    lengths = torch.zeros(1, 3, 3, dtype=torch.long)
    bias = attention.attention_bias(CAUSAL, positions, lengths, batch=1)
    psi = attention._position_scores(positions)[0]
    assert torch.allclose(bias[0, 0], CAUSAL + psi)
    assert torch.equal(bias[0, 1], CAUSAL + attention.phi.weight[0, 0])
