"""Cross-entropy summed over a logits matrix, a few rows at a time (CPU).

``F.cross_entropy(logits.float(), ...)`` on a step's labelled positions (SmolLM2-135M, batch
8: 1,621 x 49,152) makes full-size fp32 tensors (the upcast, log-softmax, their gradients)
that live far outside the caches and, past glibc's mmap threshold, are fresh pages every
step: the upcast with its backward cast and log-softmax forward and backward took 2.8 s of
a 12.8 s bf16 LoRA step (a one-off torch.profiler run). Here each block of rows (4 MB) is upcast, reduced
to its softmax, target probability and gradient (softmax minus one-hot), written straight
into a gradient of the logits' own dtype in the forward; backward only scales it (in
one-off timings on one core: 0.27-0.33 s against 0.52-2.16 s for forward and backward at
that size, for an earlier version with a separate exp, which the softmax kernel beats). Same fp32 arithmetic as the
full-size computation (sums within 1e-7). ``fused_head`` goes further where the head allows
it; this is the path for the heads it leaves alone.
"""

from __future__ import annotations

from typing import Any

import torch

BLOCK_BYTES = 4 << 20  # fp32 bytes per block: stays in a core's share of cache


def block_rows(vocabulary: int) -> int:
    return max(1, BLOCK_BYTES // (4 * vocabulary))


def block_loss(upcast: torch.Tensor, probs: torch.Tensor, safe: torch.Tensor,
               valid: torch.Tensor, gradient: bool) -> torch.Tensor:
    """Summed cross-entropy of one fp32 block of logits ``upcast`` (rows x vocabulary).

    ``probs`` (same shape) receives the softmax, and with ``gradient`` the loss's gradient
    with respect to the logits (softmax minus one-hot, zero on ignored rows).
    """
    torch._softmax(upcast, 1, False, out=probs)
    picked = probs.gather(1, safe).squeeze(1)
    loss = -picked.clamp_min(torch.finfo(torch.float32).tiny).log()
    tiny = picked < 1e-30  # a probability this small has lost digits: log-softmax instead
    if bool(tiny.any()):
        rows = tiny.nonzero().squeeze(1)
        exact = -torch.log_softmax(upcast[rows], 1).gather(1, safe[rows]).squeeze(1)
        loss = loss.index_put((rows,), exact)
    if gradient:
        probs.scatter_add_(1, safe, torch.full_like(safe, -1, dtype=probs.dtype))
        probs.mul_(valid.unsqueeze(1))
    return (loss * valid).sum()


def targets_of(targets: torch.Tensor, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(targets as gather indices, ignored ones 0; which rows count)."""
    valid = targets != ignore_index
    return targets.where(valid, 0).unsqueeze(1), valid


class _SummedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, targets: torch.Tensor,
                ignore_index: int) -> torch.Tensor:
        rows = block_rows(logits.shape[1])
        safe, valid = targets_of(targets, ignore_index)
        gradient = ctx.needs_input_grad[0]
        grad = torch.empty_like(logits) if gradient else None
        total = torch.zeros((), dtype=torch.float32)
        for start in range(0, logits.shape[0], rows):
            span = slice(start, start + rows)
            block = logits[span].float()
            probs = torch.empty_like(block)
            total += block_loss(block, probs, safe[span], valid[span], gradient)
            if grad is not None:
                grad[span] = probs
        ctx.grad = grad
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, None, None]:
        found, ctx.grad = ctx.grad, None
        return found.mul_(grad), None, None  # fp32 scale, one rounding


def summed_cross_entropy(logits: torch.Tensor, targets: torch.Tensor,
                         ignore_index: int = -100) -> torch.Tensor:
    """``F.cross_entropy(logits.float(), targets, ignore_index, reduction="sum")``."""
    if logits.device.type != "cpu" or not logits.is_contiguous():
        return torch.nn.functional.cross_entropy(logits.float(), targets,
                                                 ignore_index=ignore_index, reduction="sum")
    return _SummedCrossEntropy.apply(logits, targets, ignore_index)
