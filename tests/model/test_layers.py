"""The split of heads: what each head adds to the attention scores, on a hand-made 3-item graph."""

from __future__ import annotations

import torch

from recbole_hug.model.layers import HUGAttention

INF = float("-inf")
CAUSAL = torch.full((3, 3), INF).triu(1)


def _attention(n_seq: int, n_graph: int) -> HUGAttention:
    return HUGAttention(8, 4, n_seq, n_graph, relative_positions=False, attn_dropout=0.0)


def test_sequence_heads_are_causal_and_mp_heads_follow_the_graph() -> None:
    allowed = torch.tensor([[[True, False, False], [False, True, False], [True, False, True]]])
    bias = _attention(1, 2).attention_bias(CAUSAL, None, allowed, batch=1)
    assert bias.shape == (1, 3, 3, 3)
    assert torch.equal(bias[0, 0], CAUSAL)
    expected = torch.tensor([[0.0, INF, INF], [INF, 0.0, INF], [0.0, INF, 0.0]])
    assert torch.equal(bias[0, 1], expected) and torch.equal(bias[0, 2], expected)


def test_se_heads_take_the_models_spatial_bias_as_it_is() -> None:
    se_bias = torch.tensor([[[[10.0, INF, INF], [20.0, 10.0, INF], [30.0, 20.0, 10.0]]]])
    bias = _attention(0, 1).attention_bias(CAUSAL, None, se_bias, batch=1)
    assert torch.equal(bias, se_bias)


def test_relative_scores_are_added_to_sequence_heads_only() -> None:
    attention = HUGAttention(8, 4, 1, 1, relative_positions=True, attn_dropout=0.0)
    positions = torch.randn(3, 8)
    se_bias = (CAUSAL + 5.0).expand(1, 1, 3, 3)
    bias = attention.attention_bias(CAUSAL, positions, se_bias, batch=1)
    psi = attention._position_scores(positions)[0]
    assert torch.allclose(bias[0, 0], CAUSAL + psi)
    assert torch.equal(bias[0, 1], CAUSAL + 5.0)
