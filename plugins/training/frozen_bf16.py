"""Frozen LoRA base weights held in bf16 while training under bf16 autocast.

Autocast runs every linear layer in bf16 and so casts each frozen fp32 base weight to bf16
in every forward (and keeps the cast for backward). Holding those weights in bf16 for the
length of training gives the same numbers (autocast's cast is the same round-to-nearest)
without the per-step casts (casts: 8.2% -> 6.2% of a SmolLM2-135M LoRA step on CPU; the
step itself ~2% faster, within the machine's noise: benchmarks/README.md).
Only the base layers of plain LoRA linear layers change: DoRA reads its base weight outside
autocast, and a frozen layer of the ``freeze`` method is saved with the model. The fp32
tensors are kept and put back afterwards, so what follows training (saving, merging,
evaluation in fp32) sees exactly the weights it saw before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch


def lora_base_layers(model: Any) -> list[torch.nn.Linear]:
    """The frozen ``nn.Linear`` base layers of the model's plain LoRA layers."""
    try:
        from peft.tuners.lora.layer import Linear
    except ImportError:
        return []
    found = []
    for layer in model.modules():
        if type(layer) is not Linear or getattr(layer, "lora_variant", None) \
                or any(getattr(layer, "use_dora", {}).values()):  # DoRA and other variants
            continue
        base = layer.base_layer
        if type(base) is torch.nn.Linear and not base.weight.requires_grad:
            found.append(base)
    return found


@contextmanager
def frozen_weights_in_bf16(model: Any, enabled: bool) -> Iterator[int]:
    """Within the block the LoRA base weights are bf16; yields how many layers changed."""
    layers = [layer for layer in lora_base_layers(model) if enabled
              and layer.weight.dtype == torch.float32]
    originals = [layer.weight.data for layer in layers]
    for layer in layers:
        layer.weight.data = layer.weight.data.to(torch.bfloat16)
    try:
        yield len(layers)
    finally:
        for layer, original in zip(layers, originals, strict=True):
            layer.weight.data = original
