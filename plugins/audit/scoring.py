"""Log-likelihoods of many continuations of one context, the context computed once.

A canary is ranked against 1,000 random secrets that all follow the same context (the
chat-formatted instruction and the prefix, ~60 tokens with SmolLM2's template), and a
placeholder site against a dozen values after its training context. Scoring each
``context + candidate`` as its own sequence, as ``full_sequences`` does, runs the context
once per candidate: ~85% of the tokens. Here, as FastLM scores an lm-eval question's
choices, the shared context runs once (``PrefixCache``, its key/value states), and the
candidates are its continuations: each batch feeds only their own tokens, with positions
that continue after the context and a mask that lets every token see all of it; the
candidates' shared first tokens run once too (``heads``). The
arithmetic is the same as on the whole sequences (to floating-point summation order).

Tokenisation is exactly the old one: each ``context + candidate`` is tokenised whole, and a
candidate's score sums the tokens after its common prefix with the context's tokens (a
candidate may merge with the context's last characters into one token).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ftp.api import Tokenizer
from ftp.plugins.audit import heads
from ftp.plugins.evaluation.prefix_cache import PrefixCache, cache_keyword, supports_prefix_cache

Tick = Callable[[int], None]


def common_prefix(a: list[int], b: list[int]) -> int:
    """Tokens ``a`` and ``b`` share at the start (at least 1: the first token is context)."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return max(n, 1)


def continuation_logprobs(model: Any, tokenizer: Tokenizer, context: str, continuations: list[str],
                          batch_size: int = 64, tick: Tick | None = None) -> list[float]:
    """Sum of log-probabilities of each continuation's tokens after ``context``."""
    base = tokenizer(context.rstrip(" "), add_special_tokens=False)["input_ids"]
    sequences = [tokenizer(context + c, add_special_tokens=False)["input_ids"]
                 for c in continuations]
    begins = [common_prefix(base, s) for s in sequences]
    shared = min(begins, default=1) - 1  # the last context token must be fed: it scores
    if shared < 1 or not _cache_works(model):
        return full_sequences(model, tokenizer, sequences, begins, batch_size, tick)
    return cached_prefix(model, tokenizer, sequences, begins, shared, batch_size * 2, tick)


def _unwrapped(model: Any) -> Any:
    """The transformers model inside a PEFT wrapper (its forward's own keywords)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _cache_works(model: Any) -> bool:
    return supports_prefix_cache(_unwrapped(model))


def full_sequences(model: Any, tokenizer: Tokenizer, sequences: list[list[int]], begins: list[int],
                   batch_size: int = 64, tick: Tick | None = None) -> list[float]:
    """Every ``context + continuation`` as its own right-padded sequence (the reference)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    scores = []
    for start in range(0, len(sequences), batch_size):
        batch = sequences[start:start + batch_size]
        width = max(map(len, batch))
        ids = torch.tensor([s + [pad] * (width - len(s)) for s in batch])
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in batch])
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(2, ids[:, 1:, None])[..., 0]
        for row, sequence in enumerate(batch):
            begin = begins[start + row]
            scores.append(float(logp[row, begin - 1:len(sequence) - 1].sum()))
        if tick is not None:
            tick(len(batch))
    return scores


def cached_prefix(model: Any, tokenizer: Tokenizer, sequences: list[list[int]], begins: list[int],
                  shared: int, batch_size: int = 256, tick: Tick | None = None) -> list[float]:
    """The first ``shared`` tokens (the same in every sequence) run once; the rest of each
    sequence runs on their key/value states, shared first tokens once (``heads``)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    tails = [s[shared:] for s in sequences]
    if min(map(len, tails)) < 2:  # an empty candidate: nothing after the context to cut
        return full_sequences(model, tokenizer, sequences, begins, batch_size // 2, tick)
    with torch.no_grad():
        cache = PrefixCache(model, sequences[0][:shared], device=_device(model))
        cache.keyword = cache_keyword(_unwrapped(model))  # a PEFT wrapper passes it through
        return heads.score_tails(model, cache, tails, [b - shared for b in begins], pad,
                                 batch_size, tick)


def _device(model: Any) -> Any:
    return next(model.parameters()).device
