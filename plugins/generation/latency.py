"""Latency and cost of a model: time to first token, ms per token at batch 1, throughput at
batch N, and what a million generated tokens costs at a hardware price per hour.

Every figure is the median of ``repeats`` timed calls after one warm-up call (which also
pays for compilation; its time is reported separately). Decoding always produces exactly
``new_tokens`` tokens (``min_new_tokens``), so an early end-of-text never flatters a model.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from ftp.api import Tokenizer
from ftp.plugins.generation.decoding import chat_inputs, generate_ids

PROMPT = ("Turn this customer-support email into a JSON ticket with the fields category, "
          "priority, product and summary.\n\nHello,\nMy name is <PERSON>. The firmware update "
          "for my Nimbus Router failed halfway through. Please look into this soon, it has "
          "been 5 days. You can reach me at <EMAIL_ADDRESS> or <PHONE_NUMBER>.\nThanks,")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _median(fn, repeats: int) -> float:
    return statistics.median(_timed(fn) for _ in range(repeats))


def measure(model: Any, tokenizer: Tokenizer, *, strategy: str = "plain", new_tokens: int = 32,
            batch: int = 8, repeats: int = 3, price_per_hour: float | None = None,
            prompt: str = PROMPT) -> dict[str, Any]:
    """Latency figures of one model with one generation strategy."""
    device = next(model.parameters()).device
    ids = chat_inputs(tokenizer, [{"role": "user", "content": prompt}], device)
    batch_ids = ids.repeat(batch, 1)

    def run(input_ids, n):
        return lambda: generate_ids(model, tokenizer, input_ids, n, strategy, min_new_tokens=n)

    warmup_s = _timed(run(ids, new_tokens))
    _timed(run(ids, 1))
    first = _median(run(ids, 1), repeats)
    full = _median(run(ids, new_tokens), repeats)
    _timed(run(batch_ids, new_tokens))
    batched = _median(run(batch_ids, new_tokens), repeats)
    result = {
        "strategy": strategy, "device": str(device), "prompt_tokens": int(ids.shape[1]),
        "new_tokens": new_tokens, "batch": batch, "repeats": repeats,
        "warmup_s": round(warmup_s, 3),
        "ttft_ms": round(first * 1000, 2),
        "ms_per_token": round((full - first) / max(new_tokens - 1, 1) * 1000, 2),
        "tokens_per_s_batch1": round(new_tokens / full, 2),
        f"tokens_per_s_batch{batch}": round(batch * new_tokens / batched, 2),
    }
    if price_per_hour is not None:
        result.update(cost_per_million(price_per_hour, result, batch))
    return result


def cost_per_million(price_per_hour: float, result: dict[str, Any], batch: int) -> dict:
    """Dollars (or whatever the price is in) per million generated tokens."""
    def cost(tokens_per_s: float) -> float:
        return round(price_per_hour / (tokens_per_s * 3600) * 1e6, 4)

    return {"price_per_hour": price_per_hour,
            "cost_per_m_tokens_batch1": cost(result["tokens_per_s_batch1"]),
            f"cost_per_m_tokens_batch{batch}": cost(result[f"tokens_per_s_batch{batch}"])}
