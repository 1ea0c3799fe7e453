"""Shared prompt prefixes computed once: MMLU's five-shot prefix, reused across a subject.

Every question of an MMLU subject (5-shot) starts with the same description and five worked
examples, several hundred tokens; the question itself is a few dozen. ``group_by_prefix``
finds contexts that share a long token prefix (the token ids themselves, so tokenisation is
what lm-eval produced), and ``PrefixCache`` runs the decoder on that prefix once, keeping
its key/value states. Each batch of the group's trees (the contexts' remaining tokens and
their choices, see ``fast_lm``) then attends to the cached prefix: positions continue after
it and the mask lets every token see all of it. The arithmetic is the same as running each
whole sequence (to floating-point summation order), so log-likelihoods equal HFLM's.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch

MIN_PREFIX = 32  # shorter shared prefixes save less than a cached batch costs to set up


@dataclass
class Group:
    """Trees whose contexts all start with ``prefix`` (empty: no shared prefix)."""
    prefix: list[int]
    trees: list[Any]


def common_length(a: list[int], b: list[int]) -> int:
    limit = min(len(a), len(b))
    for i in range(limit):
        if a[i] != b[i]:
            return i
    return limit


def group_by_prefix(trees: list[Any], min_prefix: int = MIN_PREFIX) -> list[Group]:
    """Trees grouped by a shared context prefix of at least ``min_prefix`` tokens.

    Sorted by context, trees sharing a prefix are neighbours and a run's common prefix is
    that of its first and last member. A run grows while the common prefix stays at least
    ``min_prefix`` and at least half of what it was (so a subject's long prefix is not cut
    down to a description shared with the next subject). Each prefix stops one token short
    of its shortest context: the last context token must be in the tree, it scores the
    first choice token. Groups of one tree, and short prefixes, go to the plain group.
    """
    ordered = sorted(trees, key=lambda tree: tree.context)
    plain, groups, start = Group([], []), [], 0
    while start < len(ordered):
        end, shared = start + 1, len(ordered[start].context) - 1
        while end < len(ordered):
            length = min(shared, common_length(ordered[start].context, ordered[end].context),
                         len(ordered[end].context) - 1)
            if length < min_prefix or length * 2 < shared:
                break
            shared, end = length, end + 1
        members = ordered[start:end]
        if len(members) > 1 and shared >= min_prefix:
            groups.append(Group(list(members[0].context[:shared]),
                                [_strip(tree, shared) for tree in members]))
        else:
            plain.trees.extend(members)
        start = end
    return ([plain] if plain.trees else []) + groups


def _strip(tree: Any, length: int) -> Any:
    return type(tree)(tree.context[length:], tree.members)


class PrefixCache:
    """The decoder's key/value states for one prefix, handed out per batch."""

    def __init__(self, decoder: Any, prefix: list[int], device: Any) -> None:
        ids = torch.tensor([prefix], device=device)
        out = decoder(input_ids=ids, use_cache=True)
        self.length = len(prefix)
        cache = out.cache if hasattr(out, "cache") else out.past_key_values
        self.layers = [(layer.keys, layer.values) for layer in cache.layers]
        self.keyword = cache_keyword(decoder)

    def for_batch(self, rows: int, after: Any = None) -> Any:
        """A fresh cache of ``rows`` copies of the prefix (the forward appends to it);
        ``after``: per layer, each row's own states to follow the prefix."""
        from transformers import DynamicCache

        cache = DynamicCache()
        for index, (keys, values) in enumerate(self.layers):
            keys, values = keys.expand(rows, -1, -1, -1), values.expand(rows, -1, -1, -1)
            if after is not None:
                keys = torch.cat([keys, after[index][0]], dim=2)
                values = torch.cat([values, after[index][1]], dim=2)
            cache.update(keys, values, index)
        return cache


def cache_keyword(decoder: Any) -> str:
    """transformers 5.24 renamed the forward's ``past_key_values`` to ``cache``."""
    try:
        names = inspect.signature(decoder.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in names else "past_key_values"


def supports_prefix_cache(decoder: Any) -> bool:
    """True when the model's cache is the plain dynamic one (no sliding or linear layers)."""
    from transformers.cache_utils import DynamicLayer

    config = getattr(decoder, "config", None)
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return False
    layer_types = getattr(config, "layer_types", None) or []
    return DynamicLayer is not None and all(t == "full_attention" for t in layer_types)
