"""What `ftp data diff`, `stats` and `show` compute (the commands only print it)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt

from ftp.api import Project, Tokenizer
from ftp.plugins.data import catalog
from ftp.plugins.data.formats import format_of
from ftp.plugins.data.splits import SPLITS
from ftp.plugins.data.tokenize import encode_records, encode_texts


def diff(project: Project, first: str, second: str, preview: int = 5) -> dict[str, Any]:
    """How dataset ``second`` differs from ``first``: examples added, removed, moved."""
    a, b = catalog.resolve_dataset(project, first), catalog.resolve_dataset(project, second)
    db = project.store.db
    params = {"a": a["id"], "b": b["id"]}
    only = ("select content_hash from examples where dataset_id = :{0} except "
            "select content_hash from examples where dataset_id = :{1}")
    added = [r[0] for r in db.execute(only.format("b", "a"), params)]
    removed = [r[0] for r in db.execute(only.format("a", "b"), params)]
    moved = db.execute(
        "select count(*) from examples x join examples y on x.content_hash = y.content_hash "
        "where x.dataset_id = :a and y.dataset_id = :b and x.split != y.split", params
    ).fetchone()[0]
    return {
        "first": catalog.label(a), "second": catalog.label(b),
        "counts": {s: {"first": a["counts"].get(s, 0), "second": b["counts"].get(s, 0)}
                   for s in (*SPLITS, "total")},
        "added": len(added), "removed": len(removed),
        "unchanged": b["counts"].get("total", 0) - len(added), "moved_split": moved,
        "added_examples": _preview(db, b["id"], added[:preview]),
        "removed_examples": _preview(db, a["id"], removed[:preview]),
    }


def _preview(db: Any, dataset_id: int, hashes: list[str]) -> list[str]:
    out = []
    for content in hashes:
        row = db.execute("select record from examples where dataset_id = ? and "
                         "content_hash = ?", [dataset_id, content]).fetchone()
        record = json.loads(row[0])
        out.append(_short(format_of(record).prompt(record) or
                          format_of(record).response(record)))
    return out


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def percentiles(values: list[int], points: tuple[int, ...] = (50, 90, 95, 99, 100)
                ) -> dict[str, int]:
    if not values:
        return {}
    ordered = sorted(values)
    return {f"p{p}": ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
            for p in points}


def stats(project: Project, dataset: Any, tokenizer: Tokenizer, *, template: Any, max_length: int,
          truncation: str, histogram: Path | None) -> dict[str, Any]:
    """Counts per split and source, token-length percentiles, truncated/dropped counts."""
    row = catalog.resolve_dataset(project, dataset)
    per_split: dict[str, Any] = {}
    lengths: dict[str, list[int]] = {}
    for split in SPLITS:
        rows = list(catalog.examples(project, row["id"], split, include_canaries=True))
        sources = Counter(_source(ex, row) for ex in rows)
        entry: dict[str, Any] = {"examples": len(rows), "sources": dict(sources)}
        if rows:
            encoded = encode_records((ex["record"] for ex in rows), tokenizer,
                                     template=template, max_length=max_length,
                                     truncation="truncate" if truncation == "error"
                                     else truncation, strict=False)
            entry.update(encoded.stats)
            entry["token_lengths"] = percentiles(encoded.lengths)
            lengths[split] = encoded.lengths
        per_split[split] = entry
    if histogram is not None:
        write_histogram(lengths, histogram, catalog.label(row), max_length)
    return {"dataset": catalog.label(row), "id": row["id"], "splits": per_split,
            "max_length": max_length, "histogram": str(histogram) if histogram else None}


def _source(example: dict[str, Any], dataset: dict[str, Any]) -> str:
    tags = example["tags"]
    if "canary" in tags:
        return "canary"
    generated = [t for t in tags if t.startswith("generator:")]
    return generated[0] if generated else Path(dataset["source"] or "?").name


def write_histogram(lengths: dict[str, list[int]], path: Path, title: str,
                    max_length: int) -> None:
    matplotlib.use("Agg")
    figure, axis = plt.subplots(figsize=(7, 4))
    for split, values in lengths.items():
        if values:
            axis.hist(values, bins=40, alpha=0.6, label=f"{split} ({len(values)})")
    axis.axvline(max_length, color="red", linestyle="--", label=f"max_length {max_length}")
    axis.set_xlabel("tokens per example")
    axis.set_ylabel("examples")
    axis.set_title(f"Token lengths: {title}")
    axis.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def token_view(tokenizer: Tokenizer, text: str, limit: int) -> dict[str, Any]:
    """The first ``limit`` token ids with their text, and whether decode(encode) round-trips."""
    ids = encode_texts(tokenizer, [text])[0]
    decoded = tokenizer.decode(ids)
    return {
        "tokens": [{"id": i, "text": tokenizer.decode([i])} for i in ids[:limit]],
        "total": len(ids), "round_trip": decoded == text,
    }
