"""Candidates scored on the context's cache, their shared first tokens computed once too.

After the context every candidate is a "tail": the last context token, then its own tokens.
Canary candidates are random digit strings of one format, so their first tokens repeat: all
1,001 tails share the first (the context's last token), ~10 distinct pairs follow, ~100
distinct triples. The tails are cut after ``k`` tokens: each distinct head of ``k`` tokens
runs once on the context's key/value cache (stage one), and each tail's rest runs on the
context's states followed by its head's (stage two). ``k`` minimises the tokens fed,
``heads(k) * k + sum(rest)``: 4 for the default canaries with SmolLM2's tokenizer (the
default audit 357 s -> 245 s end to end: benchmarks/README.md). A tail's last token is only predicted, never fed. Same arithmetic as running each
``context + candidate`` whole, to floating-point summation order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Tick = Callable[[int], None]
Layers = list[tuple[torch.Tensor, torch.Tensor]]


def head_length(tails: list[list[int]]) -> int:
    """The cut that feeds the fewest tokens (every tail keeps at least one token after it)."""
    longest = min(map(len, tails)) - 1
    best, best_cost = 1, None
    for k in range(1, longest + 1):
        heads = len({tuple(t[:k]) for t in tails})
        cost = heads * k + sum(len(t) - 1 - k for t in tails)
        if best_cost is None or cost < best_cost:
            best, best_cost = k, cost
    return best


def score_tails(model: Any, cache: Any, tails: list[list[int]], firsts: list[int],
                pad: int, batch_size: int, tick: Tick | None = None) -> list[float]:
    """Sum of log-probabilities of ``tail[j]`` for ``j >= firsts[i]`` (tail index), each
    predicted from everything before it; ``cache`` holds the context before the tails."""
    k = head_length(tails)
    index: dict[tuple[int, ...], int] = {}
    group = [index.setdefault(tuple(t[:k]), len(index)) for t in tails]
    heads = [list(h) for h in index]
    scores = [0.0] * len(tails)
    members: list[list[int]] = [[] for _ in heads]
    for i, g in enumerate(group):
        members[g].append(i)
    head_states = _run_heads(model, cache, heads, members, tails, firsts, scores, batch_size)
    for start in range(0, len(tails), batch_size):
        rows = [i for i in range(start, min(start + batch_size, len(tails)))
                if len(tails[i]) - 1 > k]
        if rows:
            _run_rests(model, cache, head_states, k, rows, group, tails, firsts, scores, pad)
        if tick is not None:
            tick(min(batch_size, len(tails) - start))
    return scores


def _run_heads(model: Any, cache: Any, heads: list[list[int]], members: list[list[int]],
               tails: list[list[int]], firsts: list[int], scores: list[float],
               batch_size: int) -> Layers:
    """Stage one: every distinct head on the context's states; adds each tail's scored
    tokens up to and including ``tail[k]`` and returns the heads' key/value states."""
    k = len(heads[0])
    parts: list[Layers] = []
    for start in range(0, len(heads), batch_size):
        batch = heads[start:start + batch_size]
        out, states = _forward(model, cache, batch, None, None, cache.length)
        logp = torch.log_softmax(out.float(), dim=-1)  # [heads, k, vocab]
        for row, g in enumerate(range(start, start + len(batch))):
            for i in members[g]:
                wanted = range(max(firsts[i] - 1, 0), k)  # column p predicts tail[p + 1]
                scores[i] += float(sum(logp[row, p, tails[i][p + 1]] for p in wanted))
        parts.append([(keys[:, :, cache.length:], values[:, :, cache.length:])
                      for keys, values in states])
    return [(torch.cat([p[n][0] for p in parts]), torch.cat([p[n][1] for p in parts]))
            for n in range(len(parts[0]))]


def _run_rests(model: Any, cache: Any, head_states: Layers, k: int, rows: list[int],
               group: list[int], tails: list[list[int]], firsts: list[int],
               scores: list[float], pad: int) -> None:
    """Stage two: each tail's tokens after its head (all but the last) on the context's
    and its head's states; adds the tokens they predict."""
    feeds = [tails[i][k:-1] for i in rows]
    picked = torch.tensor([group[i] for i in rows], device=head_states[0][0].device)
    heads = [(keys.index_select(0, picked), values.index_select(0, picked))
             for keys, values in head_states]
    width = max(map(len, feeds))
    out, _ = _forward(model, cache, [f + [pad] * (width - len(f)) for f in feeds], heads,
                      [len(f) for f in feeds], cache.length + k)
    logp = torch.log_softmax(out.float(), dim=-1)  # column c predicts tail[k + c + 1]
    for row, (i, feed) in enumerate(zip(rows, feeds, strict=True)):
        wanted = range(max(firsts[i] - 1 - k, 0), len(feed))
        scores[i] += float(sum(logp[row, c, tails[i][k + c + 1]] for c in wanted))


def _forward(model: Any, cache: Any, ids: list[list[int]], extra: Layers | None,
             lengths: list[int] | None, offset: int) -> tuple[torch.Tensor, Layers]:
    """Logits of ``ids`` after the context's states (and, per row, ``extra`` states: the
    rows' heads), positions from ``offset``; and the key/value states after the forward."""
    rows, width = len(ids), len(ids[0])
    device = cache.layers[0][0].device
    states = cache.for_batch(rows, extra)
    lengths = lengths or [width] * rows
    mask = torch.tensor([[1] * (offset + n) + [0] * (width - n) for n in lengths],
                        device=device)
    positions = torch.arange(offset, offset + width, device=device).expand(rows, -1)
    out = model(input_ids=torch.tensor(ids, device=device), attention_mask=mask,
                position_ids=positions, **{cache.keyword: states}, use_cache=True)
    found = out.cache if hasattr(out, "cache") else out.past_key_values
    return out.logits, [(layer.keys, layer.values) for layer in found.layers]
