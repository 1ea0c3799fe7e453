"""Bookkeeping of `ftp run`: a stage's key (a hash of its config and inputs) and its run.

While a stage runs, the ``ftp_run_started`` hook notes the run it starts, so a stage killed
half-way (its train run then marked failed by the store) is found and resumed next time,
and a stage whose key is unchanged and whose run finished is skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftp import hookimpl
from ftp.api import Project, RunRecord

if TYPE_CHECKING:  # this module is a plugin loaded at start-up: keep it light
    from ftp.store import Store


def now() -> str:
    from ftp.store import now as store_now

    return store_now()


def stage_key(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_hash(path: Path) -> str:
    """A content hash of a file or of every file in a folder (names and bytes)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for item in files:
        digest.update(str(item.relative_to(path) if path.is_dir() else item.name).encode())
        with item.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class _Active:
    store: Store | None = None
    stage_id: int | None = None


def latest(store: Store, stage: str, key: str) -> dict[str, Any] | None:
    """The most recent record of ``stage`` with ``key``, with its run's status."""
    row = next(store.db.query(
        "select s.*, r.status as run_status from pipeline_stages s left join runs r "
        "on r.id = s.run_id where s.stage = ? and s.key = ? order by s.id desc limit 1",
        [stage, key]), None)
    if row is not None:
        row["detail"] = json.loads(row["detail"] or "{}")
    return row


def done(store: Store, stage: str, key: str) -> dict[str, Any] | None:
    """The record of a finished stage with this key, if its run (if any) finished too."""
    row = latest(store, stage, key)
    if row and row["status"] == "done" and row["run_status"] in (None, "finished"):
        return row
    return None


@contextmanager
def recording(store: Store, stage: str, key: str) -> Iterator[dict[str, Any]]:
    """Record a stage; the caller fills ``detail`` (and ``run_id`` / ``dataset_id``)."""
    stage_id = store.db["pipeline_stages"].insert({
        "stage": stage, "key": key, "status": "running", "detail": "{}",
        "created_at": now(), "updated_at": now()}).last_pk
    record: dict[str, Any] = {"detail": {}}
    _Active.store, _Active.stage_id = store, stage_id
    try:
        yield record
    except BaseException:
        _update(store, stage_id, status="failed", detail=record["detail"])
        raise
    finally:
        _Active.store, _Active.stage_id = None, None
    _update(store, stage_id, status="done", detail=record["detail"],
            **{k: record[k] for k in ("run_id", "dataset_id") if record.get(k) is not None})


def _update(store: Store, stage_id: int, **values: Any) -> None:
    if "detail" in values:
        values["detail"] = json.dumps(values["detail"], default=str)
    with store.transaction():
        store.db["pipeline_stages"].update(stage_id, {**values, "updated_at": now()})


@hookimpl
def ftp_run_started(project: Project, run: RunRecord) -> None:
    """The first run a stage starts is its run (a train stage's train run, for resume)."""
    if _Active.stage_id is None or _Active.store is None:
        return
    row = _Active.store.db["pipeline_stages"].get(_Active.stage_id)
    if row["run_id"] is None:
        _update(_Active.store, _Active.stage_id, run_id=run.id)
