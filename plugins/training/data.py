"""Training data from the project's store, through the data pipeline's API.

Supervised methods get ``{"input_ids", "labels"}`` examples from ``encode_records``; DPO
gets ``{"prompt", "chosen", "rejected"}`` texts from preference records. A data subset of a
fraction is a prefix of one seeded shuffle, so smaller fractions are nested in larger ones.
"""

from __future__ import annotations

import random
from typing import Any

from ftp.errors import UserError

PREFERENCE = "preference"


def data_api() -> Any:
    try:
        from ftp.plugins.data import api
    except ImportError:
        raise UserError("no data pipeline plugin is installed (ftp.plugins.data.api)",
                        hint="import data with `ftp data import FILE` first") from None
    return api


def records(project, dataset: str | None, split: str, fraction: float = 1.0,
            seed: int = 42) -> list[dict[str, Any]]:
    """The split's records; a nested subset (a prefix of a seeded shuffle) for fraction < 1."""
    if not 0 < fraction <= 1:
        raise UserError(f"--fraction must be in (0, 1], got {fraction}")
    found = list(data_api().load_records(project, dataset, split=split))
    if fraction < 1 and found:
        order = list(range(len(found)))
        random.Random(seed).shuffle(order)
        keep = sorted(order[:max(1, round(len(found) * fraction))])
        found = [found[i] for i in keep]
    return found


def encoded(project, records_: list[dict[str, Any]], tokenizer: Any,
            split: str) -> list[dict[str, Any]]:
    """Token ids and labels for supervised training; refuses preference-only data."""
    if not records_:
        return []
    if all(r.get("format") == PREFERENCE for r in records_):
        raise UserError("this dataset holds preference pairs (prompt/chosen/rejected)",
                        hint="train on it with --method dpo")
    fmt = project.config["format"]
    result = data_api().encode_records(
        records_, tokenizer, template=fmt["template"], max_length=fmt["max_length"],
        truncation=fmt["truncation"], train_on_responses_only=fmt["train_on_responses_only"])
    examples = [{"input_ids": list(e["input_ids"]), "labels": list(e["labels"])}
                for e in result.examples]
    if records_ and not examples and split == "train":
        raise UserError(
            f"every {split} example was dropped: all are longer than format.max_length "
            f"({fmt['max_length']}) or have no response tokens",
            hint="raise format.max_length or set format.truncation = \"truncate\"")
    return examples


def preference_pairs(records_: list[dict[str, Any]]) -> list[dict[str, str]]:
    """prompt/chosen/rejected texts; anything else is an error naming the problem."""
    pairs = []
    for record in records_:
        if record.get("format") != PREFERENCE:
            raise UserError(f"--method dpo needs preference data (prompt, chosen, rejected); "
                            f"this dataset has {record.get('format', 'unknown')!r} records",
                            hint="import prompt/chosen/rejected records, or use --method lora")
        pairs.append({k: _text(record[k]) for k in ("prompt", "chosen", "rejected")})
    return pairs


def _text(value: Any) -> str:
    if isinstance(value, list):  # chat messages: keep the content
        return "\n".join(str(m.get("content", "")) for m in value if isinstance(m, dict))
    return str(value)
