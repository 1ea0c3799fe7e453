"""Shared by the privacy tests: plain torch steps that make a tiny model memorise texts."""

from __future__ import annotations


def memorise_texts(model, tokenizer, texts: list[str], steps: int) -> None:
    """AdamW on ``texts`` as one padded batch (pad positions carry no loss), seeded."""
    import torch

    torch.manual_seed(0)
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
