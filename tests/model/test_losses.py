"""The shared loss: equal to F.cross_entropy over the scores, in value and gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from recbole_hug.model.losses import WORKSPACE, Workspace, linear_cross_entropy


def test_hand_worked_two_classes() -> None:
    # state (1), weights (0, ln 3): scores (0, ln 3), softmax (1/4, 3/4); target 1 -> -ln(3/4);
    # d loss / d scores = (1/4, -1/4): d state = 1/4 * 0 - 1/4 * ln 3, d weight = (1/4, -1/4) * 1
    state = torch.tensor([[1.0]], requires_grad=True)
    weight = torch.tensor([[0.0], [math.log(3.0)]], requires_grad=True)
    loss = linear_cross_entropy(state, weight, torch.tensor([1]))
    loss.backward()
    assert loss.item() == pytest.approx(-math.log(0.75))
    assert state.grad.item() == pytest.approx(-0.25 * math.log(3.0))
    assert weight.grad[:, 0].tolist() == pytest.approx([0.25, -0.25])


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 6),
    classes=st.integers(2, 40),
    dim=st.integers(1, 8),
    seed=st.integers(0, 2**16),
    with_bias=st.booleans(),
    excluded=st.booleans(),
    scale=st.floats(0.1, 20.0),
)
def test_equals_torch_cross_entropy(
    rows: int, classes: int, dim: int, seed: int, with_bias: bool, excluded: bool, scale: float
) -> None:
    generator = torch.Generator().manual_seed(seed)

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale

    inputs = [draw(rows, dim), draw(classes, dim), draw(classes) if with_bias else None]
    target = torch.randint(1 if excluded else 0, classes, (rows,), generator=generator)
    upstream = torch.rand((), generator=generator, dtype=torch.float64) + 0.5
    ours = [None if x is None else x.clone().requires_grad_() for x in inputs]
    theirs = [None if x is None else x.clone().requires_grad_() for x in inputs]
    loss = linear_cross_entropy(ours[0], ours[1], target, ours[2], 0 if excluded else None)
    (loss * upstream).backward()
    scores = F.linear(*theirs)
    if excluded:
        scores = scores.masked_fill(torch.arange(classes) == 0, float("-inf"))
    expected = F.cross_entropy(scores, target)
    (expected * upstream).backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-9, abs=1e-9)
    for mine, reference in zip(ours, theirs, strict=True):
        if mine is not None:
            assert torch.allclose(mine.grad, reference.grad, rtol=1e-8, atol=1e-10)


def test_half_precision_is_summed_in_float32() -> None:
    states = torch.randn(4, 16).to(torch.bfloat16).requires_grad_()
    weight = torch.randn(3000, 16).to(torch.bfloat16).requires_grad_()
    target = torch.tensor([0, 5, 2999, 7])
    loss = linear_cross_entropy(states, weight, target)
    loss.backward()
    assert loss.dtype == torch.bfloat16 and states.grad.dtype == torch.bfloat16
    expected = F.cross_entropy(states.detach().float() @ weight.detach().float().T, target)
    assert loss.float().item() == pytest.approx(expected.item(), rel=2e-2)


def test_a_second_backward_is_refused_not_wrong() -> None:
    states = torch.randn(3, 4, requires_grad=True)
    loss = linear_cross_entropy(states, torch.randn(5, 4), torch.tensor([0, 1, 2]))
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="twice"):
        loss.backward()


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match=r"\[P, d\] states"):
        linear_cross_entropy(torch.zeros(2, 3, 4), torch.zeros(5, 4), torch.zeros(2).long())
    with pytest.raises(ValueError, match=r"\[P\] targets"):
        linear_cross_entropy(torch.zeros(2, 4), torch.zeros(5, 4), torch.zeros(3).long())


@pytest.mark.parametrize("states_dtype", [torch.float32, torch.bfloat16])
def test_under_autocast_it_matches_autocast_cross_entropy(states_dtype: torch.dtype) -> None:
    """bf16 autocast on CPU (states from a bf16 layer or not, fp32 weights): the gradients come
    back in each input's dtype and agree with autocast's own ``F.linear`` + cross-entropy."""
    generator = torch.Generator().manual_seed(0)
    states = torch.randn(16, 8, generator=generator).to(states_dtype)
    weight, bias = torch.randn(30, 8, generator=generator), torch.randn(30, generator=generator)
    target = torch.randint(1, 30, (16,), generator=generator)
    ours = [x.clone().requires_grad_() for x in (states, weight, bias)]
    theirs = [x.clone().requires_grad_() for x in (states, weight, bias)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = linear_cross_entropy(ours[0], ours[1], target, ours[2], excluded=0)
        scores = F.linear(*theirs).float()
        expected = F.cross_entropy(scores.masked_fill(torch.arange(30) == 0, -math.inf), target)
    loss.backward()
    expected.backward()
    assert loss.dtype == states_dtype
    torch.testing.assert_close(loss.float(), expected, rtol=1e-2, atol=1e-2)
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine.grad.dtype == mine.dtype
        torch.testing.assert_close(mine.grad.float(), reference.grad.float(), rtol=2e-2, atol=2e-3)


def _reference_grads(states, weight, target) -> tuple[torch.Tensor, torch.Tensor]:
    states, weight = states.detach().requires_grad_(), weight.detach().requires_grad_()
    F.cross_entropy(states @ weight.T, target).backward()
    return states.grad, weight.grad


def test_training_steps_reuse_one_score_buffer() -> None:
    generator = torch.Generator().manual_seed(1)
    weight = torch.randn(50, 6, generator=generator, requires_grad=True)
    pointers = set()
    for rows in (40, 30, 40):  # a smaller step reuses the larger buffer
        states = torch.randn(rows, 6, generator=generator, requires_grad=True)
        target = torch.randint(0, 50, (rows,), generator=generator)
        weight.grad = None
        linear_cross_entropy(states, weight, target).backward()
        pointers.add(WORKSPACE._buffers[torch.float32].data_ptr())
        expected = _reference_grads(states, weight, target)
        torch.testing.assert_close((states.grad, weight.grad), expected)
    assert len(pointers) == 1


def test_two_live_losses_never_share_the_buffer() -> None:
    generator = torch.Generator().manual_seed(2)
    weight = torch.randn(50, 6, generator=generator, requires_grad=True)
    first, second = (torch.randn(20, 6, generator=generator, requires_grad=True) for _ in "ab")
    targets = [torch.randint(0, 50, (20,), generator=generator) for _ in "ab"]
    loss_a = linear_cross_entropy(first, weight, targets[0])  # holds the buffer ...
    loss_b = linear_cross_entropy(second, weight, targets[1])  # ... so this one gets its own
    loss_a.backward()
    grad_a, weight.grad = weight.grad, None
    loss_b.backward()
    torch.testing.assert_close((first.grad, grad_a), _reference_grads(first, weight, targets[0]))
    torch.testing.assert_close(
        (second.grad, weight.grad), _reference_grads(second, weight, targets[1])
    )


def test_a_dropped_loss_gives_the_buffer_back() -> None:
    workspace = Workspace()
    held = workspace.scores(4, 5, torch.float32)
    assert workspace.scores(4, 5, torch.float32).data_ptr() != held.data_ptr()  # lent out
    pointer = held.data_ptr()
    del held  # the loss's graph freed without a backward pass
    assert workspace.scores(3, 5, torch.float32).data_ptr() == pointer
