"""Text generation for chat and latency measurement: a greedy decoder per device.

``plain`` is ``model.generate`` as users call it (the baseline). ``static`` adds a static KV
cache, ``compiled`` a static cache plus ``torch.compile`` (what pays off on a GPU, where
kernel launches dominate a small model's decode step). ``loop`` is a lean greedy loop over
the dynamic cache under ``torch.inference_mode``: no logits processors, no stopping-criteria
machinery per step. ``benchmarks/latency.py`` measures them against ``plain`` in one run;
``best_strategy`` picks the winner per device, and every strategy yields the same tokens.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

import torch
from transformers import CompileConfig, DynamicCache, TextIteratorStreamer

from ftp.api import Tokenizer

STRATEGIES = ("plain", "static", "compiled", "loop")


def best_strategy(device: str) -> str:
    """Measured on a shared 2-core CPU (benchmarks/results/latency.json, SmolLM2-135M and the
    tiny model): a static cache without compilation cut ms/token at batch 1 to 0.72x and
    0.52x of plain ``generate``; the lean loop did not win (1.01x, 0.79x). On CUDA a static
    cache with compilation is the known lever (not measured here: no GPU)."""
    return "compiled" if device.startswith("cuda") else "static"


def chat_inputs(tokenizer: Tokenizer, messages: list[dict[str, str]], device: Any = "cpu") -> Any:
    """Token ids of a conversation with the generation prompt appended."""
    if getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                            return_tensors="pt", return_dict=True)["input_ids"]
    else:
        text = "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
    return ids.to(device)


def _eos_ids(model: Any, tokenizer: Tokenizer) -> set[int]:
    eos = model.generation_config.eos_token_id
    found = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        found.add(tokenizer.eos_token_id)
    return found


def greedy_loop(model: Any, input_ids: Any, max_new_tokens: int, eos: set[int],
                on_token: Callable[[int], None] | None = None,
                min_new_tokens: int = 0) -> list[list[int]]:
    """Greedy decoding with the dynamic cache; returns the new token ids per row."""
    with torch.inference_mode():
        cache = {_cache_arg(model): DynamicCache()}
        out = model(input_ids=input_ids, use_cache=True, **cache)
        tokens, done = [], torch.zeros(input_ids.shape[0], dtype=torch.bool)
        for step in range(max_new_tokens):
            next_ids = out.logits[:, -1, :].argmax(dim=-1)
            tokens.append(next_ids)
            if on_token is not None:
                on_token(int(next_ids[0]))
            if step >= min_new_tokens and eos:
                done |= torch.isin(next_ids.cpu(), torch.tensor(sorted(eos)))
                if bool(done.all()):
                    break
            out = model(input_ids=next_ids[:, None], use_cache=True, **cache)
    stacked = torch.stack(tokens, dim=1).tolist()
    return [_cut(row, eos, min_new_tokens) for row in stacked]


def _cache_arg(model: Any) -> str:
    """``cache`` in recent transformers 5.x, ``past_key_values`` before."""
    forward = getattr(model, "get_base_model", lambda: model)().forward
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def _cut(row: list[int], eos: set[int], keep: int) -> list[int]:
    for index, token in enumerate(row):
        if token in eos and index >= keep:
            return row[: index + 1]
    return row


def generate_ids(model: Any, tokenizer: Tokenizer, input_ids: Any, max_new_tokens: int,
                 strategy: str = "plain", min_new_tokens: int = 0,
                 streamer: Any = None) -> list[list[int]]:
    """New token ids per row, greedy, with the named strategy."""
    eos = _eos_ids(model, tokenizer)
    if strategy == "loop":
        on_token = (lambda token: streamer.put_token(token)) if streamer else None
        return greedy_loop(model, input_ids, max_new_tokens, eos, on_token, min_new_tokens)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    options: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": False,
                               "min_new_tokens": min_new_tokens,
                               "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id}
    if strategy in ("static", "compiled"):
        options["cache_implementation"] = "static"
        options["disable_compile"] = strategy == "static"  # the cache alone, no compilation
    if strategy == "compiled":
        options["compile_config"] = _compile_config()
    attention = torch.ones_like(input_ids)
    with torch.inference_mode():
        out = model.generate(input_ids=input_ids, attention_mask=attention, streamer=streamer,
                             **options)
    return [_cut(row, eos, min_new_tokens) for row in out[:, input_ids.shape[1]:].tolist()]


def _compile_config() -> Any:
    """transformers compiles static-cache decoding by itself on accelerators; this asks for
    it on every device (CPU included), so the benchmark can measure it there too."""
    config = CompileConfig(fullgraph=False, dynamic=False)
    config._compile_all_devices = True
    return config


class TokenStreamer:
    """Turns token ids into text pieces as they come (for ``loop``), like transformers'
    ``TextIteratorStreamer`` does for ``generate``."""

    def __init__(self, tokenizer: Tokenizer, skip_prompt: bool) -> None:
        # ``generate`` puts the prompt first; the lean loop puts only new tokens.
        self.inner = TextIteratorStreamer(tokenizer, skip_prompt=skip_prompt,
                                          skip_special_tokens=True)

    def put_token(self, token: int) -> None:
        self.inner.put(torch.tensor([token]))

    def __iter__(self) -> Iterator[str]:
        return iter(self.inner)


def stream_reply(model: Any, tokenizer: Tokenizer, messages: list[dict[str, str]],
                 max_new_tokens: int = 256, strategy: str | None = None) -> Iterator[str]:
    """Yield the reply's text as it is generated (generation runs on a thread)."""
    device = str(next(model.parameters()).device)
    strategy = strategy or best_strategy(device)
    input_ids = chat_inputs(tokenizer, messages, device)
    streamer = TokenStreamer(tokenizer, skip_prompt=strategy != "loop")
    target = streamer if strategy == "loop" else streamer.inner
    errors: list[BaseException] = []

    def work() -> None:
        try:
            generate_ids(model, tokenizer, input_ids, max_new_tokens, strategy, streamer=target)
        except BaseException as error:  # re-raised in the caller's thread
            errors.append(error)
        finally:
            if strategy == "loop":
                streamer.inner.end()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield from streamer
    thread.join()
    if errors:
        raise errors[0]
