"""The split of heads on a hand-made 3-item input: which positions each kind of head averages."""

from __future__ import annotations

import pytest
import torch

from recbole_hug.model.layers import HUGAttention, head_split

X = torch.eye(3, 4).unsqueeze(0)  # [1, 3, 4]: position i holds the unit vector e_i


def _averaging(n_seq: int, n_graph: int) -> HUGAttention:
    """Attention whose queries and keys are 0 (uniform weights over the allowed positions), whose
    values are the inputs, and whose heads' outputs are summed by W_o."""
    attention = HUGAttention(4, 4, n_seq, n_graph, relative_positions=False, attn_dropout=0.0)
    heads = n_seq + n_graph
    with torch.no_grad():
        attention.qkv.weight.zero_()
        attention.qkv.bias.zero_()
        for head in range(heads):
            rows = slice(2 * heads * 4 + 4 * head, 2 * heads * 4 + 4 * head + 4)
            attention.qkv.weight[rows] = torch.eye(4)
        attention.out.weight.copy_(torch.cat([torch.eye(4)] * heads, dim=1))
        attention.out.bias.zero_()
    return attention


def test_sequence_heads_average_every_earlier_position() -> None:
    out = _averaging(1, 0)(X, None, None)[0]
    expected = torch.tensor([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0]])
    torch.testing.assert_close(out, expected)


def test_mp_heads_average_their_collaborative_neighbours_only() -> None:
    allowed = torch.tensor([[[True, False, False], [False, True, False], [True, False, True]]])
    out = _averaging(0, 1)(X, None, allowed.unsqueeze(1))[0]
    expected = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0.5, 0, 0.5, 0]])
    torch.testing.assert_close(out, expected)


def test_se_heads_weight_positions_by_their_bias() -> None:
    inf = float("-inf")
    bias = torch.tensor(
        [[[[0.0, inf, inf], [0.0, 0.0, inf], [0.0, torch.log(torch.tensor(2.0)), 0.0]]]]
    )
    out = _averaging(0, 1)(X, None, bias)[0]
    torch.testing.assert_close(out[2], torch.tensor([0.25, 0.5, 0.25, 0]))


def test_a_split_block_concatenates_sequence_then_graph_heads() -> None:
    allowed = torch.eye(3, dtype=torch.bool).view(1, 1, 3, 3)  # MP: only itself
    out = _averaging(1, 1)(X, None, allowed)[0]
    sequence = torch.tensor([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0]])
    torch.testing.assert_close(out, sequence + X[0])


@pytest.mark.parametrize(
    ("fusion", "depth", "expected"),
    [
        ("concurrent", "stacked", [(3, 1)] * 3),
        ("graph_then_sequence", "stacked", [(0, 4)] * 3 + [(4, 0)] * 3),
        ("sequence_then_graph", "stacked", [(4, 0)] * 3 + [(0, 4)] * 3),
        ("graph_then_sequence", "matched", [(0, 4), (0, 4), (4, 0)]),
        ("sequence_then_graph", "matched", [(4, 0), (4, 0), (0, 4)]),
    ],
)
def test_head_split_by_fusion_and_depth(fusion: str, depth: str, expected: list) -> None:
    config = {"n_heads": 4, "n_graph_heads": 1, "n_layers": 3, "fusion": fusion}
    assert head_split({**config, "fusion_depth": depth}) == expected


@pytest.mark.parametrize("grad", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("rows", [None, torch.tensor([2])], ids=["all", "rows"])
def test_the_position_bias_reaches_the_kernel_as_a_4d_mask(monkeypatch, grad, rows) -> None:
    """``psi``'s bias is handed over as ``[1 or B, H, L_q, L]``: PyTorch's CPU kernel takes the
    same broadcast from a 3-d ``[H, L, L]`` mask about 4x slower (BENCHMARKS.md)."""
    import recbole_hug.model.layers as layers

    shapes = []
    kernel = layers.F.scaled_dot_product_attention

    def recording(q, k, v, attn_mask=None, **kwargs):
        shapes.append(None if attn_mask is None else tuple(attn_mask.shape))
        return kernel(q, k, v, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(layers.F, "scaled_dot_product_attention", recording)
    attention = HUGAttention(4, 4, 2, 0, relative_positions=True, attn_dropout=0.0)
    with torch.set_grad_enabled(grad):
        attention(X, torch.randn(3, 4), None, rows)
    assert shapes == [(1, 2, 3, 3) if rows is None else (1, 2, 1, 3)]
