"""Per-example causal attention for bf16 training on CPU.

PyTorch's CPU flash-attention kernel does its backward in fp32 whatever the inputs' dtype
(its bf16 forward and backward of a SmolLM2-135M batch-8 step take about what fp32 does:
``benchmarks/attention_cpu.py``), while a bf16 matrix multiply runs at ~4.5x an fp32 one on
CPUs with avx512_bf16; and under bf16 autocast the query reaches attention in fp32 (rotary
embeddings promote it). Here the inputs are cast to bf16 once, and each example is computed
a block of 128 queries at a time, never touching keys after a block's last query (the
causal half). Scores are fp32 products of the bf16 inputs and the softmax is fp32, as in the
flash kernel; the probabilities go to bf16 for the value product (as the flash kernel's do)
and are kept for the backward, whose products are all bf16 with the softmax gradient and
the key/value sums in fp32. Query heads sharing a key/value head are stacked into one
multiply (grouped-query attention). Measured: ``benchmarks/attention_cpu.py`` (the
attention alone) and ``benchmarks/train_kernels.py`` (the step without it).
"""

from __future__ import annotations

from typing import Any

import torch

QUERY_BLOCK = 128
_flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu


def usable(query: torch.Tensor, dropout: float) -> bool:
    """bf16 CPU attention needing a gradient, no dropout: where this backward pays.

    Under bf16 autocast the query arrives in fp32 (rotary embeddings promote it), and
    autocast would cast it to bf16 for ``scaled_dot_product_attention``: so does this path.
    """
    bf16 = query.dtype == torch.bfloat16 or (
        torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)
    return (query.device.type == "cpu" and bf16 and dropout == 0.0
            and query.requires_grad and query.shape[0] == 1)


class _SegmentAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                lengths: list[int], scale: float) -> torch.Tensor:
        out = torch.empty(query.shape[2], query.shape[1], query.shape[3], dtype=query.dtype)
        probs, start = [], 0
        for length in lengths:
            span = slice(start, start + length)
            probs.append(example_forward(query[0, :, span], key[0, :, span],
                                         value[0, :, span], scale,
                                         out[span].transpose(0, 1)))
            start += length
        ctx.save_for_backward(query, key, value, out)
        ctx.lengths, ctx.scale, ctx.probs = lengths, scale, probs
        return out[None]  # (1, tokens, heads, dim), as transformers expects

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        query, key, value, out = ctx.saved_tensors
        grads = [torch.empty(t.shape[1:], dtype=t.dtype) for t in (query, key, value)]
        start = 0
        for length, probs in zip(ctx.lengths, ctx.probs, strict=True):
            span = slice(start, start + length)
            example_backward(query[0, :, span], key[0, :, span], value[0, :, span],
                             out[span].transpose(0, 1), grad[0, span].transpose(0, 1),
                             probs, ctx.scale, [g[:, span] for g in grads])
            start += length
        ctx.probs = None
        return grads[0][None], grads[1][None], grads[2][None], None, None


def blocks(n: int) -> list[tuple[int, int]]:
    return [(a, min(n, a + QUERY_BLOCK)) for a in range(0, n, QUERY_BLOCK)]


def stacked(t: torch.Tensor, a: int, b: int, groups: int) -> torch.Tensor:
    """(heads, n, x) rows a..b → (groups, heads/groups * (b-a), x): a key head's queries."""
    return t[:, a:b].reshape(groups, -1, t.shape[-1])


def example_forward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
                    out: torch.Tensor) -> list[torch.Tensor]:
    """One example's attention into ``out`` (heads, n, dim); returns its bf16 probabilities.

    Scores are fp32 products of the bf16 inputs (as the flash kernel's); the probabilities
    go to bf16 for the value multiply, as the flash kernel's do.
    """
    heads, n, dim = q.shape
    groups = k.shape[0]
    keys = k.float().transpose(1, 2)
    found = []
    for a, b in blocks(n):
        scores = torch.bmm(stacked(q, a, b, groups).float(), keys[:, :, :b]).mul_(scale)
        scores.view(groups, -1, b - a, b)[..., a:].masked_fill_(_future(b - a), -torch.inf)
        low = scores.softmax(-1).to(torch.bfloat16)
        out[:, a:b] = torch.bmm(low, v[:, :b]).view(heads, b - a, dim)
        found.append(low)
    return found


def example_backward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor,
                     grad_out: torch.Tensor, probs: list[torch.Tensor], scale: float,
                     grads: list[torch.Tensor]) -> None:
    """One example's (heads, n, dim) gradients into ``grads`` (dq, dk, dv views)."""
    heads, n, dim = q.shape
    groups = k.shape[0]
    delta = (grad_out.float() * out.float()).sum(-1, keepdim=True)  # rowsum(dO * O)
    dk = torch.zeros(groups, n, dim)
    dv = torch.zeros(groups, n, dim)
    for (a, b), low in zip(blocks(n), probs, strict=True):
        gb = stacked(grad_out, a, b, groups)
        dv[:, :b] += torch.bmm(low.transpose(1, 2), gb)
        dscores = torch.bmm(gb, v[:, :b].transpose(1, 2)).float()
        dscores.sub_(stacked(delta, a, b, groups)).mul_(low).mul_(scale)
        grad_scores = dscores.to(torch.bfloat16)
        grads[0][:, a:b] = torch.bmm(grad_scores, k[:, :b]).view(heads, b - a, dim)
        dk[:, :b] += torch.bmm(grad_scores.transpose(1, 2), stacked(q, a, b, groups))
    grads[1].copy_(dk)
    grads[2].copy_(dv)


_masks: dict[int, torch.Tensor] = {}


def _future(size: int) -> torch.Tensor:
    """(size, size) True where a key comes after its query."""
    if size not in _masks:
        _masks[size] = torch.ones(size, size, dtype=torch.bool).triu(1)
    return _masks[size]


def segment_attention_bf16(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                           lengths: list[int], scale: float | None) -> torch.Tensor:
    """(1, heads, tokens, dim) tensors → (1, tokens, heads, dim), causal within each example."""
    scale = query.shape[-1] ** -0.5 if scale is None else scale
    low = (t.to(torch.bfloat16) for t in (query, key, value))  # autocast's cast, once
    return _SegmentAttention.apply(*low, lengths, scale)
