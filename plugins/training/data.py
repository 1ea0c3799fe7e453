"""Training data from the project's store, through the data pipeline's API.

Supervised methods get ``{"input_ids", "labels"}`` examples from ``encode_records``; raw
text records (continued pre-training on domain documents) are tokenized whole and cut into
``format.max_length`` pieces, so a long document is learnt in full rather than dropped; DPO
gets ``{"prompt", "chosen", "rejected"}`` texts from preference records. A fraction's subset
comes from the data pipeline, which nests smaller fractions inside larger ones.
"""

from __future__ import annotations

from typing import Any

from ftp.api import Project, Tokenizer
from ftp.errors import UserError
from ftp.plugins.data.tokenize import encode_texts

PREFERENCE = "preference"
TEXT = "text"


def data_api() -> Any:
    try:
        from ftp.plugins.data import api
    except ImportError:
        raise UserError("no data pipeline plugin is installed (ftp.plugins.data.api)",
                        hint="import data with `ftp data import FILE` first") from None
    return api


def dataset_row(project: Project, dataset: str | int | None) -> dict[str, Any]:
    """The dataset ``dataset`` names (None: the latest), pinned by id for resume."""
    return data_api().resolve_dataset(project, dataset)


def records(project: Project, dataset: str | int | None, split: str,
            fraction: float = 1.0) -> list[dict[str, Any]]:
    """The split's records; a nested subset for fraction < 1 (the data pipeline's)."""
    if not 0 < fraction <= 1:
        raise UserError(f"--fraction must be in (0, 1], got {fraction}")
    return list(data_api().load_records(project, dataset, split=split, fraction=fraction))


def encoded(project: Project, records_: list[dict[str, Any]], tokenizer: Tokenizer,
            split: str) -> list[dict[str, Any]]:
    """Token ids and labels for supervised training; refuses preference-only data."""
    if not records_:
        return []
    if all(r.get("format") == PREFERENCE for r in records_):
        raise UserError("this dataset holds preference pairs (prompt/chosen/rejected)",
                        hint="train on it with --method dpo")
    fmt = project.config["format"]
    texts = [r for r in records_ if r.get("format") == TEXT]
    others = [r for r in records_ if r.get("format") != TEXT]
    examples = text_chunks([r["text"] for r in texts], tokenizer, fmt["max_length"])
    if others:
        result = data_api().encode_records(
            others, tokenizer, template=fmt["template"], max_length=fmt["max_length"],
            truncation=fmt["truncation"], train_on_responses_only=fmt["train_on_responses_only"])
        examples += [{"input_ids": list(e["input_ids"]), "labels": list(e["labels"])}
                     for e in result.examples]
    if records_ and not examples and split == "train":
        raise UserError(
            f"every {split} example was dropped: all are longer than format.max_length "
            f"({fmt['max_length']}) or have no response tokens",
            hint="raise format.max_length or set format.truncation = \"truncate\"")
    return examples


def text_chunks(texts: list[str], tokenizer: Tokenizer, max_length: int) -> list[dict[str, Any]]:
    """Each document as BOS? + tokens + EOS, cut into pieces of at most ``max_length``.

    Every token carries loss (continued pre-training); a piece of one token has nothing to
    predict and is left out. A document's pieces stay in order, one example each.
    """
    if not texts:
        return []
    bos, eos = _bos(tokenizer), tokenizer.eos_token_id
    found = []
    for ids in encode_texts(tokenizer, texts):
        stream = bos + list(ids) + ([eos] if eos is not None else [])
        for start in range(0, len(stream), max_length):
            piece = stream[start:start + max_length]
            if len(piece) > 1:
                found.append({"input_ids": piece, "labels": list(piece)})
    return found


def _bos(tokenizer: Tokenizer) -> list[int]:
    """BOS when the tokenizer adds one by default (as the data pipeline's encoder does)."""
    if tokenizer.bos_token_id is None:
        return []
    ids = tokenizer("a")["input_ids"]
    return [tokenizer.bos_token_id] if ids and ids[0] == tokenizer.bos_token_id else []


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
