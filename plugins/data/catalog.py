"""Dataset versions in the store: find, finish, list, diff, and read examples back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from ftp.api import Project
from ftp.errors import NotFound
from ftp.plugins.data.dedupe import NearIndex
from ftp.plugins.data.splits import SPLITS, in_fraction, split_key

JSON_COLUMNS = ("counts", "scrub_report", "meta")


def _row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for column in JSON_COLUMNS:
        out[column] = json.loads(out[column]) if out.get(column) else {}
    return out


def label(dataset: dict[str, Any]) -> str:
    return f"{dataset['name']}@{dataset['version']}"


def resolve_dataset(project: Project, ref: str | int | None = None) -> dict[str, Any]:
    """A dataset row: None = latest; an id, a name (latest version) or ``name@version``."""
    table = project.store.db["datasets"]
    hint = "`ftp data list` shows the datasets; `ftp data import FILE` adds one"
    if ref is None or ref == "latest":
        found = next(table.rows_where("content_hash is not null", order_by="id desc",
                                      limit=1), None)
        if found is None:
            raise NotFound("no datasets in this project yet", hint=hint)
        return _row(found)
    text = str(ref)
    if text.isdigit():
        where, params = "id = ?", [int(text)]
    elif "@" in text and text.rsplit("@", 1)[1].isdigit():
        name, version = text.rsplit("@", 1)
        where, params = "name = ? and version = ?", [name, int(version)]
    else:
        where, params = "name = ?", [text]
    found = next(table.rows_where(where + " and content_hash is not null", params,
                                  order_by="version desc", limit=1), None)
    if found is None:
        raise NotFound(f"no dataset {text!r}", hint=hint)
    return _row(found)


def finish_dataset(db: Any, dataset_id: int, fmt: str, scrub_report: dict[str, Any],
                   meta: dict[str, Any]) -> None:
    """Counts and content hash, computed from the stored examples."""
    counts = {split: 0 for split in SPLITS}
    for row in db.execute("select split, count(*) from examples where dataset_id = ? "
                          "group by split", [dataset_id]):
        counts[row[0]] = row[1]
    counts["total"] = sum(counts[s] for s in SPLITS)
    for key in ("skipped", "scrub_dropped", "canaries", "read"):
        counts[key] = meta.get(key, 0)
    counts["duplicates"] = meta["duplicates"]["duplicate"]
    counts["near_duplicates"] = meta["duplicates"]["near_duplicate"]
    counts["contaminated"] = meta["contamination"]["count"]
    digest = hashlib.sha256()
    for (content,) in db.execute("select content_hash from examples where dataset_id = ? "
                                 "order by content_hash", [dataset_id]):
        digest.update(content.encode())
    db["datasets"].update(dataset_id, {
        "format": fmt, "content_hash": digest.hexdigest(), "counts": json.dumps(counts),
        "scrub_report": json.dumps(scrub_report, default=str),
        "meta": json.dumps(meta, default=str),
    })


def contamination(db: Any, dataset_id: int, settings: dict[str, Any],
                  flag: Any = None) -> dict[str, Any]:
    """Near-duplicate prompts across splits (a test example the model trains on), tagged
    ``contaminated``. ``flag(ids)`` does the tagging where given (the importer passes one
    that writes in one short transaction: the search reads only, without the write lock)."""
    threshold = float(settings.get("contamination_threshold", 0.8))
    if threshold <= 0:
        return {"count": 0, "examples": [], "threshold": threshold}
    index = NearIndex(threshold)
    field = settings.get("split_key", "")
    found: list[dict[str, Any]] = []
    try:
        for row_id, record in _records(db, dataset_id, "split != 'train'"):
            index.add(split_key(record, field), row_id)
        for row_id, record in _records(db, dataset_id, "split = 'train'"):
            for other, score in index.query(split_key(record, field), first=False):
                found.append({"train_id": row_id, "other_id": int(other),
                              "similarity": round(score, 3)})
    finally:
        index.close()
    (flag or (lambda ids: _flag(db, ids)))({item["other_id"] for item in found})
    return {"count": len({item["other_id"] for item in found}), "examples": found[:5],
            "threshold": threshold}


def _records(db: Any, dataset_id: int, where: str) -> Iterator[tuple[int, dict[str, Any]]]:
    sql = (f"select id, record from examples where dataset_id = ? and {where} "
           "and (tags is null or tags not like '%canary%') order by id")
    for row_id, record in db.execute(sql, [dataset_id]):
        yield row_id, json.loads(record)


def flag_contaminated(db: Any, ids: set[int]) -> None:
    """Tag the examples ``ids`` as ``contaminated``."""
    _flag(db, ids)


def _flag(db: Any, ids: set[int]) -> None:
    for row_id in ids:
        tags = db.execute("select tags from examples where id = ?", [row_id]).fetchone()[0]
        values = json.loads(tags) if tags else []
        db["examples"].update(row_id, {"tags": json.dumps(values + ["contaminated"])})


def list_datasets(project: Project) -> list[dict[str, Any]]:
    rows = project.store.db["datasets"].rows_where("content_hash is not null",
                                                  order_by="name, version")
    return [_row(row) for row in rows]


def examples(project: Project, dataset_id: int, split: str | None = None,
             include_canaries: bool = True) -> Iterator[dict[str, Any]]:
    """Stored example rows (record parsed, tags parsed) in import order."""
    where, params = "dataset_id = ?", [dataset_id]
    if split is not None:
        where, params = where + " and split = ?", params + [split]
    for row in project.store.db["examples"].rows_where(where, params, order_by="idx"):
        row = dict(row)
        row["record"] = json.loads(row["record"])
        row["tags"] = json.loads(row["tags"]) if row["tags"] else []
        if include_canaries or "canary" not in row["tags"]:
            yield row


def load_records(project: Project, dataset: Any = None, split: str = "train",
                 fraction: float = 1.0) -> list[dict[str, Any]]:
    """Normalised records of one split; ``fraction`` selects a nested subset.

    Canaries (when configured) stay in the train split at every fraction, so a leakage
    audit measures every model trained on the dataset.
    """
    if not 0 < fraction <= 1:
        from ftp.errors import UserError

        raise UserError(f"fraction must be in (0, 1], got {fraction}")
    row = dataset if isinstance(dataset, dict) else resolve_dataset(project, dataset)
    if split not in SPLITS and split != "all":
        raise NotFound(f"no split {split!r}; splits: {', '.join(SPLITS)}, all")
    return [
        ex["record"] for ex in examples(project, row["id"], None if split == "all" else split)
        if "canary" in ex["tags"] or in_fraction(ex["content_hash"], fraction)
    ]
