"""The causal LM loss with the LM head computed only where a label is.

The LM head is a large share of a small model's work (SmolLM2-135M: 49,152 x 576, about a
fifth of the linear layers' FLOPs, and a tokens x vocabulary logits tensor in memory), and
instruction data carries loss on the response only, about half the tokens. Hidden states
are taken from the model as usual; ``logits_to_keep`` (a tensor of positions) makes the
model project only the positions whose next token has a label. The sum of cross-entropies
divided by the number of labelled tokens is what the model's own loss computes, so the
loss and gradients equal the padded, full-logits computation.
"""

from __future__ import annotations

import inspect
from typing import Any

from ftp.plugins.training.chunked_ce import summed_cross_entropy
from ftp.plugins.training.fused_head import head_cross_entropy, hidden_states_out

IGNORE = -100


def accepts_logits_to_keep(model: Any) -> bool:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        return "logits_to_keep" in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False


def labelled_positions(labels: Any) -> tuple[Any, Any]:
    """Positions t whose label t+1 counts (in any row), and the targets there."""
    targets = labels[:, 1:]
    keep = (targets != IGNORE).any(dim=0).nonzero().squeeze(1)
    return keep, targets[:, keep]


def response_loss(model: Any, inputs: dict[str, Any],
                  num_items_in_batch: Any = None) -> tuple[Any, Any]:
    """(loss, outputs) for ``inputs`` with ``labels``; ``num_items_in_batch`` as Trainer's."""
    inputs = dict(inputs)
    keep, targets = labelled_positions(inputs.pop("labels"))
    with hidden_states_out(model) as head:
        outputs = model(**inputs, logits_to_keep=keep, use_cache=False)
    found = outputs.logits.flatten(0, 1)
    targets = targets.flatten().to(found.device)
    if head is not None:  # ``found`` holds the final hidden states: head and loss together
        total = head_cross_entropy(found, head, targets, IGNORE)
        outputs.logits = None
    else:
        total = summed_cross_entropy(found, targets, IGNORE)
    count = num_items_in_batch if num_items_in_batch is not None else (targets != IGNORE).sum()
    if hasattr(count, "clamp"):
        count = count.to(total.device).clamp(min=1)
    return total / max(count, 1) if isinstance(count, int) else total / count, outputs
