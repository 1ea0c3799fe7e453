"""`ftp review --export/--import`: ratings and preferences as JSONL, to share a review.

Each line is one rating (``"type": "rating"``) or preference (``"type": "preference"``)
with enough of its sample (run, task, doc id, prompt, output) to find the same sample in
another copy of the project, where sample ids may differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftp.boundaries import reading
from ftp.errors import InputError, UserError
from ftp.plugins.review.data import check_rating
from ftp.store import Store

SAMPLE_KEYS = ("run_id", "task", "doc_id", "prompt", "output")
RATING_KEYS = ("reviewer", "score", "passed", "note", "created_at")


def _sample_fields(store: Store, sample_id: int, prefix: str = "") -> dict[str, Any]:
    row = next(store.db["samples"].rows_where("id = ?", [sample_id]), None) or {}
    return {f"{prefix}sample_id": sample_id,
            **{f"{prefix}{key}": row.get(key) for key in SAMPLE_KEYS}}


def export_reviews(store: Store, path: Path) -> dict[str, int]:
    counts = {"rating": 0, "preference": 0}
    with path.open("w", encoding="utf-8") as handle:
        for row in store.db["ratings"].rows_where(order_by="id"):
            line = {"type": "rating", **_sample_fields(store, row["sample_id"]),
                    **{key: row[key] for key in RATING_KEYS},
                    "tags": json.loads(row["tags"] or "[]")}
            handle.write(json.dumps(line) + "\n")
            counts["rating"] += 1
        for row in store.db["preferences"].rows_where(order_by="id"):
            line = {"type": "preference", "prompt": row["prompt"], "chosen": row["chosen"],
                    "reviewer": row["reviewer"], "note": row["note"],
                    "created_at": row["created_at"],
                    **_sample_fields(store, row["sample_a"], "a_"),
                    **_sample_fields(store, row["sample_b"], "b_")}
            handle.write(json.dumps(line) + "\n")
            counts["preference"] += 1
    return counts


def find_sample(store: Store, line: dict[str, Any], prefix: str = "") -> int | None:
    """The local sample a line refers to: same id with the same output, else same run,
    task and doc id (and output)."""
    sample_id, output = line.get(f"{prefix}sample_id"), line.get(f"{prefix}output")
    row = next(store.db["samples"].rows_where("id = ?", [sample_id]), None)
    if row is not None and row["output"] == output:
        return row["id"]
    rows = store.db["samples"].rows_where(
        "run_id = ? and task is ? and doc_id is ? and output is ?",
        [line.get(f"{prefix}run_id"), line.get(f"{prefix}task"), line.get(f"{prefix}doc_id"),
         output])
    found = next(rows, None)
    return None if found is None else found["id"]


def import_reviews(store: Store, path: Path) -> dict[str, int]:
    """Add the file's ratings and preferences; an identical row already there is skipped.

    All or nothing: a line that is not JSON or names an unknown sample stores nothing.
    """
    rows = [_row_for(store, line, number, path) for number, line in _lines(path)]
    counts = {"rating": 0, "preference": 0, "skipped": 0}
    with store.transaction():
        for table, row in rows:
            if _exists(store, table, row):
                counts["skipped"] += 1
                continue
            store.db[table].insert(row)
            counts["rating" if table == "ratings" else "preference"] += 1
    return counts


def _lines(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", path=str(path)) from None
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        with reading(path, number):  # nested too deep, too many digits: exit 2
            try:
                line = json.loads(raw)
            except json.JSONDecodeError as error:
                raise InputError(f"not JSON: {error.msg}", path=str(path),
                                 line=number) from None
        if not isinstance(line, dict) or line.get("type") not in ("rating", "preference"):
            raise InputError('each line must be an object with "type": "rating" or '
                             '"preference"', path=str(path), line=number)
        yield number, line


def _row_for(store: Store, line: dict[str, Any], number: int,
             path: Path) -> tuple[str, dict[str, Any]]:
    def sample(prefix: str = "") -> int:
        found = find_sample(store, line, prefix)
        if found is None:
            raise InputError(f"no sample matches {prefix}sample_id {line.get(prefix + 'sample_id')}"
                             f" (run {line.get(prefix + 'run_id')}, doc {line.get(prefix + 'doc_id')})",
                             path=str(path), line=number)
        return found

    if line["type"] == "rating":
        try:
            check_rating(line.get("score"), line.get("passed"), line.get("tags"),
                         line.get("note"))
        except UserError as error:
            raise InputError(str(error), path=str(path), line=number) from None
        sample_id = sample()
        run_id = next(store.db["samples"].rows_where("id = ?", [sample_id]))["run_id"]
        row = {"sample_id": sample_id, "run_id": run_id,
               **{key: line.get(key) for key in RATING_KEYS},
               "tags": json.dumps(sorted(set(line.get("tags") or [])))}
        return "ratings", row
    if line.get("chosen") not in ("a", "b", "tie"):
        raise InputError(f"chosen must be a, b or tie, got {line.get('chosen')!r}",
                         path=str(path), line=number)
    row = {"prompt": line.get("prompt"), "sample_a": sample("a_"), "sample_b": sample("b_"),
           "chosen": line.get("chosen"), "reviewer": line.get("reviewer"),
           "note": line.get("note"), "created_at": line.get("created_at")}
    return "preferences", row


def _exists(store: Store, table: str, row: dict[str, Any]) -> bool:
    keys = ("sample_id", "reviewer", "created_at") if table == "ratings" else (
        "sample_a", "sample_b", "reviewer", "created_at")
    where = " and ".join(f"{key} is ?" for key in keys)
    return next(store.db[table].rows_where(where, [row[k] for k in keys]), None) is not None
