"""LoRA's update added inside the base layer's output, without two passes over it.

PEFT computes a LoRA linear layer as ``base(x) + lora_B(lora_A(dropout(x))) * scaling``: on
top of the matrix multiplies that is a multiply and an add over the whole (tokens x outputs)
tensor forward, and the multiply again backward, in every adapted layer. On CPU these
passes over memory were ~5% of a SmolLM2-135M LoRA step. Here the scaling goes on the
rank-r intermediate instead (tokens x 16), and ``lora_B``'s product is accumulated into the
base output in place (one GEMM with beta = 1), so the big tensor is written once. Same
function: with a power-of-two scaling (alpha/r = 2 by default) the scaling is exact where
it is applied, and the sums differ from PEFT's only by floating-point summation order.

Only plain LoRA on an ``nn.Linear`` with one active adapter takes this path; DoRA, merged,
disabled or mixed-adapter layers keep PEFT's own forward. Under bf16 autocast it computes
what PEFT computes under autocast (bf16 products, fp32 weights), also when the frozen base
weight is held in bf16 (``frozen_bf16``).
"""

from __future__ import annotations

import types
from contextlib import contextmanager
from typing import Any


def _plain(layer: Any, x: Any, args: tuple, kwargs: dict) -> str | None:
    """The one active adapter when ``layer`` can take the fused path, else None."""
    import torch

    if args or kwargs or layer.disable_adapters or layer.merged or layer.fan_in_fan_out:
        return None
    if type(layer.base_layer) is not torch.nn.Linear:
        return None
    active = [name for name in layer.active_adapters if name in layer.lora_A]
    if len(active) != 1 or active[0] in layer.lora_variant:
        return None
    a, b = layer.lora_A[active[0]], layer.lora_B[active[0]]
    low = _autocast_dtype(x)
    # under autocast an input already in its dtype (o_proj, down_proj: bf16) gives what
    # PEFT gives: PEFT casts it up to the adapter's dtype and autocast casts it back, exactly
    if b.bias is not None or a.weight.dtype != b.weight.dtype or \
            x.dtype not in (a.weight.dtype, low) or \
            layer.base_layer.weight.dtype not in (a.weight.dtype, low):
        return None
    return active[0]


def _autocast_dtype(x: Any) -> Any:
    """The dtype autocast computes linear layers in for ``x``'s device (None when off):
    a base weight already in it (``frozen_bf16``) gives the same product."""
    import torch

    kind = x.device.type
    return torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None


def fused_forward(self: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
    """``base(x) + lora_B(lora_A(dropout(x))) * scaling``, the update accumulated in place."""
    import torch
    import torch.nn.functional as F

    name = _plain(self, x, args, kwargs)
    if name is None:
        return type(self).forward(self, x, *args, **kwargs)
    base = self.base_layer
    low_dtype = _autocast_dtype(x)
    if low_dtype not in (None, x.dtype) and type(self.lora_dropout[name]) is torch.nn.Identity:
        x = x.to(low_dtype)  # autocast's cast, once for the base product and the adapter's
    rows = x.reshape(-1, x.shape[-1])
    # 2-D, not a view: the in-place product below then needs no copy of the gradient
    out = F.linear(rows, base.weight, base.bias)  # its backward needs x and weight, not out
    low = self.lora_A[name](self.lora_dropout[name](x)) * self.scaling[name]
    # under autocast ``out`` and ``low`` are bf16 and B's weight fp32: the in-place product
    # is not autocast, so B is cast as autocast would cast it for lora_B(low)
    out.addmm_(low.reshape(-1, low.shape[-1]).to(out.dtype),
               self.lora_B[name].weight.t().to(out.dtype))
    return out.view(*x.shape[:-1], out.shape[-1])


@contextmanager
def fused_lora(model: Any):
    """Route the model's plain LoRA linear layers through ``fused_forward``; restore after."""
    try:
        from peft.tuners.lora.layer import Linear
    except ImportError:
        yield 0
        return
    layers = [m for m in model.modules() if type(m) is Linear]
    for layer in layers:
        layer.forward = types.MethodType(fused_forward, layer)
    try:
        yield len(layers)
    finally:
        for layer in layers:
            layer.__dict__.pop("forward", None)
