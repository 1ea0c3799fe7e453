"""Packing: several examples in one row, without attention between them.

Flat mode (the default where the model supports it): a step's examples go end to end in one
row with no padding at all, and ``cu_seq_lens_q`` (their cumulative lengths) tells the
``ftp_segments`` attention (``attention.py``) where each starts, so attention costs the sum
of the examples' squares, not the row's.

Rows mode (the fallback, for models outside transformers' attention interface):
transformers 5 builds a block-diagonal causal mask itself when it gets ``position_ids`` that
restart at 0 for each example, no 2D ``attention_mask`` and no cache. A batch is packed
first-fit-decreasing into rows no wider than its longest example and at most ``row_tokens``
(a longer example gets a row of its own); rows are padded to the longest row with a separate
dummy segment that carries no loss. Rows no wider than the padded batch keep the dense
mask's quadratic cost below padding's, while the linear layers see only real tokens.

In both, the label of each example's first token is set to -100, so the shifted loss never
asks one example to predict the next one's first token: the loss equals the padded
computation on the same examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

IGNORE = -100


def pack_rows(lengths: Sequence[int], row_tokens: int) -> list[list[int]]:
    """Indices of examples per row, first-fit decreasing (deterministic)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    rows: list[list[int]] = []
    room: list[int] = []
    for index in order:
        size = lengths[index]
        slot = next((r for r, free in enumerate(room) if free >= size), None)
        if slot is None:
            rows.append([index])
            room.append(max(row_tokens, size) - size)
        else:
            rows[slot].append(index)
            room[slot] -= size
    return [sorted(row) for row in rows]


class PackingCollator:
    """Examples ``{"input_ids", "labels"}`` → packed rows with restarting position ids."""

    def __init__(self, pad_token_id: int, row_tokens: int = 2048, flat: bool = False) -> None:
        self.pad_token_id = pad_token_id
        self.row_tokens = row_tokens
        self.flat = flat

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        return self._flat(examples) if self.flat else self._rows(examples)

    def _flat(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        """One row, no padding; ``cu_seq_lens_q`` marks where each example starts."""
        import torch

        ids, labels, positions = self._row(examples)
        bounds = [0]
        for example in examples:
            bounds.append(bounds[-1] + len(example["input_ids"]))
        return {"input_ids": torch.tensor([ids]), "labels": torch.tensor([labels]),
                "position_ids": torch.tensor([positions]),
                "cu_seq_lens_q": torch.tensor(bounds, dtype=torch.int32),
                "num_real_tokens": torch.tensor(len(ids))}

    def _rows(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        lengths = [len(example["input_ids"]) for example in examples]
        capacity = min(self.row_tokens, max(lengths))
        rows = [self._row([examples[i] for i in members])
                for members in pack_rows(lengths, capacity)]
        width = max(len(row[0]) for row in rows)
        batch = {key: [] for key in ("input_ids", "labels", "position_ids")}
        for ids, labels, positions in rows:
            extra = width - len(ids)
            batch["input_ids"].append(ids + [self.pad_token_id] * extra)
            batch["labels"].append(labels + [IGNORE] * extra)
            batch["position_ids"].append(positions + list(range(extra)))
        tensors = {key: torch.tensor(value) for key, value in batch.items()}
        tensors["num_real_tokens"] = torch.tensor(sum(lengths))
        return tensors

    @staticmethod
    def _row(members: list[dict[str, Any]]) -> tuple[list[int], list[int], list[int]]:
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for example in members:
            ids += list(example["input_ids"])
            labels += [IGNORE] + list(example["labels"])[1:]
            positions += list(range(len(example["input_ids"])))
        return ids, labels, positions


class PaddingCollator:
    """The usual way: pad every example to the longest in the batch, with an attention mask."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.multiple = pad_to_multiple_of

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(example["input_ids"]) for example in examples)
        if self.multiple:
            width = -(-width // self.multiple) * self.multiple
        ids, labels, mask = [], [], []
        for example in examples:
            extra = width - len(example["input_ids"])
            ids.append(list(example["input_ids"]) + [self.pad_token_id] * extra)
            labels.append(list(example["labels"]) + [IGNORE] * extra)
            mask.append([1] * len(example["input_ids"]) + [0] * extra)
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels),
                "attention_mask": torch.tensor(mask),
                "num_real_tokens": torch.tensor(sum(mask, []).count(1))}
