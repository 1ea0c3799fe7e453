"""The LM head and its cross-entropy together, a block of positions at a time (CPU).

At the labelled positions of a step (SmolLM2-135M, batch 8: 1,621 x 49,152) the logits and
their gradient are 160 MB tensors each in bf16, made afresh every step; with the full-size
fp32 cross-entropy the head and its loss took 3.8 s of a 12.8 s bf16 LoRA step (a one-off
torch.profiler run). Here the model returns its final hidden states at those positions (the
head's forward is the identity for the call), and for each block of 128 positions the
head's product, softmax, the loss and the gradient with respect to the hidden states (and
the head's weight, if it trains) are computed at once into buffers kept for the length of
training; backward only scales them. A frozen head's weight is cast to the autocast dtype
once, not every step. Against ``chunked_ce`` on full logits (``benchmarks/train_kernels.py``)
a steady step is 7.27 s against 7.48 s, within the machine's noise, with no time in page
faults (0.14-0.51 s there), at a peak RSS 0.24 GB higher: these buffers and the bf16 copy.
Numbers as autocast gives them: the product in the autocast dtype (bf16) or fp32, softmax
and loss in fp32, the logits' gradient rounded to the product's dtype.

Only a plain bias-free ``nn.Linear`` head without hooks, on CPU, on a model that applies it
directly (no soft-capping or logit scaling in its config) takes this path; anything else
keeps the full logits (``chunked_ce``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from ftp.plugins.training.chunked_ce import block_loss, targets_of

BLOCK = 128
# config attributes of models that transform logits after the head
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling",
                     "output_multiplier_scale")


class HeadState:
    """Per-training buffers of one head: its weight in the product dtype, block scratch."""

    def __init__(self, head: torch.nn.Linear) -> None:
        self.head = head
        self.low: tuple[int, torch.dtype, torch.Tensor] | None = None
        self.scratch: dict[torch.dtype, tuple[torch.Tensor, ...]] = {}

    def weight(self, dtype: torch.dtype) -> torch.Tensor:
        """The head's weight in ``dtype``; a frozen weight is cast once, not every step."""
        weight = self.head.weight
        if weight.dtype == dtype:
            return weight.detach()
        if weight.requires_grad:
            return weight.detach().to(dtype)
        if self.low is None or self.low[:2] != (weight._version, dtype):
            self.low = (weight._version, dtype, weight.detach().to(dtype))
        return self.low[2]

    def buffers(self, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        if dtype not in self.scratch:
            vocabulary = self.head.weight.shape[0]
            self.scratch[dtype] = (torch.empty(BLOCK, vocabulary, dtype=dtype),
                                   torch.empty(BLOCK, vocabulary),
                                   torch.empty(BLOCK, vocabulary))
        return self.scratch[dtype]


def _head_of(model: Any) -> tuple[Any, Any]:
    """(the model's output embeddings or None, its config), through a PEFT wrapper."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    getter = getattr(base, "get_output_embeddings", None)
    return (getter() if getter else None), getattr(base, "config", None)


def _fusable(model: Any) -> torch.nn.Linear | None:
    head, config = _head_of(model)
    if (type(head) is not torch.nn.Linear or head.bias is not None
            or head.weight.device.type != "cpu" or "forward" in vars(head)
            or type(head.weight.data) is not torch.Tensor  # e.g. an FSDP shard (DTensor)
            or head._forward_hooks or head._forward_pre_hooks
            or any(getattr(config, name, None) not in (None, 1, 1.0)
                   for name in _LOGIT_TRANSFORMS)):
        return None
    return head


@contextmanager
def fused_head(model: Any) -> Iterator[bool]:
    """Within the block ``response_loss`` fuses the head with its loss where it can."""
    head = _fusable(model)
    if head is None:
        yield False
        return
    head._ftp_head_state = HeadState(head)  # type: ignore[assignment]
    try:
        yield True
    finally:
        del head._ftp_head_state


@contextmanager
def hidden_states_out(model: Any) -> Iterator[HeadState | None]:
    """Within the block the model's "logits" are its final hidden states, when fused."""
    head, _ = _head_of(model)
    state = getattr(head, "_ftp_head_state", None)
    if state is None:
        yield None
        return
    head.forward = _identity  # type: ignore[union-attr]
    try:
        yield state
    finally:
        del head.forward  # type: ignore[union-attr]


def _identity(hidden: torch.Tensor) -> torch.Tensor:
    return hidden


class _HeadCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, state: HeadState,
                targets: torch.Tensor, ignore_index: int) -> torch.Tensor:
        dtype = (torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu")
                 else hidden.dtype)
        with torch.autocast("cpu", enabled=False):
            total, grads = head_loss(hidden.detach(), state.weight(dtype), state, targets,
                                     ignore_index, *ctx.needs_input_grad[1::-1])
        ctx.grads = grads
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        grad_hidden, grad_weight = ctx.grads
        ctx.grads = None
        return (None if grad_hidden is None else grad_hidden * grad,
                None if grad_weight is None else grad_weight * grad, None, None, None)


def head_loss(hidden: torch.Tensor, low: torch.Tensor, state: HeadState, targets: torch.Tensor,
              ignore_index: int, weight_grad: bool, hidden_grad: bool
              ) -> tuple[torch.Tensor, tuple[Any, Any]]:
    """Summed cross-entropy of ``hidden @ low.T`` and its gradients, block by block."""
    safe, valid = targets_of(targets, ignore_index)
    logits, upcast, probs = state.buffers(low.dtype)
    inputs = hidden.to(low.dtype)
    grad_hidden = torch.empty_like(inputs) if hidden_grad else None
    grad_weight = torch.zeros(low.shape, dtype=torch.float32) if weight_grad else None
    total = torch.zeros((), dtype=torch.float32)
    for start in range(0, hidden.shape[0], BLOCK):
        rows = min(BLOCK, hidden.shape[0] - start)
        span, block = slice(start, start + rows), inputs[start:start + rows]
        out, up, p = logits[:rows], upcast[:rows], probs[:rows]
        torch.mm(block, low.T, out=out)
        up.copy_(out)
        total += block_loss(up, p, safe[span], valid[span], hidden_grad or weight_grad)
        if grad_hidden is None and grad_weight is None:
            continue
        out.copy_(p)  # the logits' gradient, in the product's dtype as autograd rounds it
        if grad_hidden is not None:
            torch.mm(out, low, out=grad_hidden[span])
        if grad_weight is not None:
            grad_weight += torch.mm(out.T, block)
    return total, (None if grad_hidden is None else grad_hidden.to(hidden.dtype),
                   grad_weight)


def head_cross_entropy(hidden: torch.Tensor, state: HeadState, targets: torch.Tensor,
                       ignore_index: int = -100) -> torch.Tensor:
    """Summed cross-entropy of the head at (positions, hidden) ``hidden``, as with logits."""
    return _HeadCrossEntropy.apply(hidden, state.head.weight, state, targets, ignore_index)
