"""The loss both models train with: cross-entropy over all items, fused with the scoring.

Both papers train with a softmax over every item (HUGT Eq. 6, HG-GNN Eq. 20), whose score matrix
``[P, n_items]`` is the largest tensor of a training step. ``F.cross_entropy(states @ E.T, y)``
makes four such matrices (the scores, the saved log-softmax, the zero-filled gradient of the NLL
loss, the log-softmax gradient); :func:`linear_cross_entropy` makes one: the scores are turned
into the softmax in place in the forward pass and into their own gradient in place in the
backward pass (``(softmax - onehot) / P``). Same values and gradients (checked in
``tests/model/test_losses.py``); a step of 512 rows x 28,663 items x 128 takes about 30% less
CPU time (``benchmarks/loss_speed.py``, BENCHMARKS.md).

On a CPU that buffer is also kept from one training step to the next (:class:`Workspace`): a
fresh one is hundreds of MB that the kernel maps page by page on first write, which cost about
175 ms per HUGT step on ML-1M (25,600 x 3,417 scores; BENCHMARKS.md).
"""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable


class Workspace:
    """One float buffer per dtype, lent to one live loss at a time.

    :meth:`scores` returns a ``[rows, cols]`` view of a buffer grown to the largest request so
    far; while a view it lent is alive (its loss not yet back-propagated, or its graph not yet
    freed), the next request gets a fresh tensor instead, so two live losses never share memory.
    """

    def __init__(self) -> None:
        self._buffers: dict[torch.dtype, torch.Tensor] = {}
        self._lent: dict[torch.dtype, weakref.ref] = {}

    def scores(self, rows: int, cols: int, dtype: torch.dtype) -> torch.Tensor:
        """An uninitialised ``[rows, cols]`` CPU tensor of ``dtype``."""
        lent = self._lent.get(dtype)
        if lent is not None and lent() is not None:
            return torch.empty(rows, cols, dtype=dtype)
        buffer = self._buffers.get(dtype)
        if buffer is None or buffer.numel() < rows * cols:
            buffer = self._buffers[dtype] = torch.empty(rows * cols, dtype=dtype)
        view = buffer[: rows * cols].view(rows, cols)
        self._lent[dtype] = weakref.ref(view)
        return view


#: The CPU workspace of :func:`linear_cross_entropy`'s score buffer.
WORKSPACE = Workspace()


class _LinearCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of ``states @ weight.T + bias``; one ``[P, C]`` buffer."""

    @staticmethod
    def forward(ctx, states, weight, bias, target, excluded):
        if _reusable(states, weight, bias):
            scores = WORKSPACE.scores(len(states), len(weight), states.dtype)
            if bias is None:
                torch.mm(states, weight.T, out=scores)
            else:
                torch.addmm(bias, states, weight.T, out=scores)  # F.linear's own product
        else:
            scores = F.linear(states, weight, bias)  # under autocast: in its dtype (bf16 / fp16)
        ctx.compute_dtype = scores.dtype
        if scores.dtype not in (torch.float32, torch.float64):  # half precision: sum in float32
            scores = scores.float()
        if excluded is not None:
            scores[:, excluded] = float("-inf")
        target_score = scores.gather(1, target.unsqueeze(1)).squeeze(1)
        peak = scores.amax(dim=1, keepdim=True)
        softmax = scores.sub_(peak).exp_()
        total = softmax.sum(dim=1, keepdim=True)
        loss = (peak.squeeze(1) + total.log().squeeze(1) - target_score).mean()
        softmax.div_(total)
        ctx.save_for_backward(states, weight, target)
        ctx.softmax, ctx.has_bias = softmax, bias is not None
        ctx.bias_dtype = bias.dtype if bias is not None else None
        return loss.to(states.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss):
        if ctx.softmax is None:
            raise RuntimeError("linear_cross_entropy cannot be back-propagated twice")
        states, weight, target = ctx.saved_tensors
        grad, ctx.softmax = ctx.softmax, None  # the softmax becomes the scores' gradient
        scale = grad_loss.to(grad.dtype) / grad.shape[0]
        grad.mul_(scale)
        grad[torch.arange(len(target), device=target.device), target] -= scale
        grad_bias = None
        if ctx.has_bias and ctx.needs_input_grad[2]:  # summed before any rounding
            grad_bias = grad.sum(dim=0).to(ctx.bias_dtype)
        # The products in the forward pass's dtype (autocast's), the gradients in the inputs'.
        dtype = ctx.compute_dtype
        grad = grad.to(dtype)
        grad_states = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_states = (grad @ weight.to(dtype)).to(states.dtype)
        if ctx.needs_input_grad[1]:
            grad_weight = (grad.T @ states.to(dtype)).to(weight.dtype)
        return grad_states, grad_weight, grad_bias, None, None


def _reusable(states: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
    """Whether the scores go into :data:`WORKSPACE`: on a CPU, float32 or float64 inputs of one
    dtype, outside autocast (where :func:`F.linear` picks the dtype)."""
    return (
        states.device.type == "cpu"
        and weight.device.type == "cpu"
        and states.dtype in (torch.float32, torch.float64)
        and weight.dtype == states.dtype
        and (bias is None or bias.dtype == states.dtype)
        and not torch.is_autocast_enabled("cpu")
    )


def linear_cross_entropy(
    states: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    bias: torch.Tensor | None = None,
    excluded: int | None = None,
) -> torch.Tensor:
    """``F.cross_entropy(states @ weight.T + bias, target)`` with one score buffer: a scalar.

    Args:
        states: ``[P, d]`` representations.
        weight: ``[C, d]`` class (item) embeddings.
        target: ``[P]`` class indices.
        bias: ``[C]`` per-class bias, or None.
        excluded: a class that is never a candidate (its score is ``-inf``; e.g. padding 0).

    Differentiable once, in ``states``, ``weight`` and ``bias``. Under autocast the products run
    in autocast's dtype (as ``F.linear`` would), the softmax in float32, and each gradient comes
    back in its input's dtype.
    """
    if states.dim() != 2 or weight.dim() != 2 or target.shape != states.shape[:1]:
        raise ValueError(
            "linear_cross_entropy takes [P, d] states, [C, d] weight and [P] targets, got "
            f"{tuple(states.shape)}, {tuple(weight.shape)} and {tuple(target.shape)}"
        )
    return _LinearCrossEntropy.apply(states, weight, bias, target, excluded)
