"""Batched generation: the one loop the test-set evaluator, the judge and synthetic data use
(chat's streaming decoder is ``decoding.py`` beside it).

Prompts are sorted by length and left-padded per batch (the fewest pad tokens), outputs are
cut at end-of-sequence and returned in the order of the prompts, with their token counts.
"""

from __future__ import annotations

from typing import Any

import torch

from ftp.api import Tokenizer
from ftp.progress import progress


def generate(model: Any, tokenizer: Tokenizer, prompts: list[str], max_new_tokens: int,
             batch_size: int) -> list[tuple[str, int]]:
    """Greedy outputs and their token counts, in the order of ``prompts``."""
    found = generate_many(model, tokenizer, prompts, max_new_tokens, batch_size, 1,
                          do_sample=False)
    return [answers[0] for answers in found]


def generate_many(model: Any, tokenizer: Tokenizer, prompts: list[str], max_new_tokens: int,
                  batch_size: int, per_prompt: int, **options: Any
                  ) -> list[list[tuple[str, int]]]:
    """``per_prompt`` outputs (text, token count) per prompt, batched by prompt length;
    ``options`` go to ``model.generate`` (``do_sample``, ``temperature``, ``top_p``...)."""
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    results: dict[int, list[tuple[str, int]]] = {}
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
        tokenizer.eos_token_id
    device = next(model.parameters()).device
    for batch in progress(batches, total=len(batches), desc="generating", unit="batch"):
        width = max(len(encoded[i]) for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, index in enumerate(batch):
            tokens = encoded[index]
            ids[row, width - len(tokens):] = torch.tensor(tokens)
            mask[row, width - len(tokens):] = 1
        with torch.no_grad():
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                 max_new_tokens=max_new_tokens, pad_token_id=pad,
                                 eos_token_id=tokenizer.eos_token_id,
                                 num_return_sequences=per_prompt, **options)
        for row, index in enumerate(batch):  # outputs of one prompt are consecutive rows
            results[index] = [_decode(out[row * per_prompt + k, width:].tolist(), tokenizer, pad)
                              for k in range(per_prompt)]
    return [results[i] for i in range(len(prompts))]


def _decode(new: list[int], tokenizer: Tokenizer, pad: int | None) -> tuple[str, int]:
    used = _length(new, tokenizer.eos_token_id, pad)
    return tokenizer.decode(new[:used], skip_special_tokens=True).strip(), used


def _length(tokens: list[int], eos: int | None, pad: int | None) -> int:
    for position, token in enumerate(tokens):
        if token == eos or (token == pad and pad != eos):
            return position
    return len(tokens)
