"""The project store: one SQLite file (``.ftp/ftp.db``) opened through sqlite-utils.

WAL mode lets a reader (datasette, `ftp runs`) look while a run writes. Every write that
belongs together happens in one transaction, so a killed process leaves no half-written
rows; a run whose process died while ``running`` is marked ``failed`` on the next open.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from ftp.errors import NotFound
from ftp.migrations import migrations

JSON_COLUMNS = ("config", "versions", "summary")
TRACKED_PACKAGES = ("torch", "transformers", "peft", "lm_eval", "presidio_analyzer", "trl")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class RunRecord:
    id: int
    kind: str
    status: str
    name: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    parent_id: int | None = None
    model: str | None = None
    dataset_id: int | None = None
    artifacts_path: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    pid: int | None = None
    pid_started: str | None = None
    host: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunRecord:
        values = dict(row)
        for column in JSON_COLUMNS:
            values[column] = json.loads(values[column]) if values.get(column) else {}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (guards against a reused pid), where /proc has it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def process_alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return started is None or process_start_time(pid) in (None, started)


def package_versions() -> dict[str, str]:
    """Versions of the packages that change results, read without importing them."""
    from importlib import metadata

    from ftp import __version__

    found = {"ftp": __version__}
    for name in TRACKED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


class Store:
    """Typed access to the project database."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.path)
        self.db.enable_wal()
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA busy_timeout = 10000")
        migrations.apply(self.db)
        self.recovered = self.mark_dead_runs_failed()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """All writes inside commit together or not at all."""
        with self.db.atomic():
            yield self.db

    # runs -----------------------------------------------------------------------------

    def start_run(self, kind: str, *, config: dict[str, Any] | None = None,
                  name: str | None = None, parent_id: int | None = None,
                  model: str | None = None, dataset_id: int | None = None,
                  artifacts_root: Path | None = None) -> RunRecord:
        pid = os.getpid()
        row = {
            "kind": kind, "name": name, "status": "running", "config": dumps(config or {}),
            "parent_id": parent_id, "model": model, "dataset_id": dataset_id,
            "started_at": now(), "pid": pid, "pid_started": process_start_time(pid),
            "host": socket.gethostname(), "versions": dumps(package_versions()),
        }
        with self.transaction():
            run_id = self.db["runs"].insert(row).last_pk
            if artifacts_root is not None:
                path = str(Path(artifacts_root) / str(run_id))
                self.db["runs"].update(run_id, {"artifacts_path": path})
        return self.get_run(run_id)

    def finish_run(self, run_id: int, *, status: str = "finished",
                   summary: dict[str, Any] | None = None, error: str | None = None) -> RunRecord:
        run = self.get_run(run_id)
        started = datetime.fromisoformat(run.started_at) if run.started_at else None
        finished = datetime.now(UTC)
        update = {
            "status": status, "finished_at": finished.isoformat(timespec="seconds"),
            "duration_s": (finished - started).total_seconds() if started else None,
            "error": error, "summary": dumps({**run.summary, **(summary or {})}),
        }
        with self.transaction():
            self.db["runs"].update(run_id, update)
        return self.get_run(run_id)

    def update_run(self, run_id: int, **values: Any) -> None:
        """Set columns of a run; dict values of JSON columns are merged into what is there."""
        run = self.get_run(run_id)
        for column in JSON_COLUMNS:
            if column in values:
                values[column] = dumps({**getattr(run, column), **values[column]})
        with self.transaction():
            self.db["runs"].update(run_id, values)

    def mark_dead_runs_failed(self) -> list[int]:
        """Runs left ``running`` by a process that no longer exists on this host."""
        host = socket.gethostname()
        dead = [
            row["id"] for row in self.db["runs"].rows_where("status = ?", ["running"])
            if row["host"] == host and not process_alive(row["pid"], row["pid_started"])
        ]
        for run_id in dead:
            self.finish_run(run_id, status="failed",
                            error="the process ended without finishing (killed?); resume it")
        return dead

    def get_run(self, ref: int | str) -> RunRecord:
        """A run by id, by name, or ``latest``."""
        row = self._find_run(str(ref))
        if row is None:
            raise NotFound(f"no run {ref!r} in {self.path}", hint="`ftp runs` lists the runs")
        return RunRecord.from_row(row)

    def _find_run(self, ref: str) -> dict[str, Any] | None:
        runs = self.db["runs"]
        if ref == "latest":
            return next(runs.rows_where(order_by="id desc", limit=1), None)
        if ref.isdigit():
            return next(runs.rows_where("id = ?", [int(ref)]), None)
        return next(runs.rows_where("name = ?", [ref], order_by="id desc", limit=1), None)

    def list_runs(self, kind: str | None = None, status: str | None = None,
                  limit: int | None = None) -> list[RunRecord]:
        clauses, params = [], []
        for column, value in (("kind", kind), ("status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        rows = self.db["runs"].rows_where(" and ".join(clauses) or None, params,
                                          order_by="id desc", limit=limit)
        return [RunRecord.from_row(row) for row in rows]

    # metrics and results ----------------------------------------------------------------

    def log_metrics(self, run_id: int, step: int, values: dict[str, float],
                    split: str = "train") -> None:
        rows = [
            {"run_id": run_id, "step": step, "name": name, "value": float(value),
             "split": split, "ts": now()}
            for name, value in values.items()
        ]
        with self.transaction():
            self.db["metrics"].upsert_all(rows, pk=("run_id", "step", "name", "split"))

    def metrics(self, run_id: int, name: str | None = None) -> list[dict[str, Any]]:
        where, params = "run_id = ?", [run_id]
        if name is not None:
            where, params = where + " and name = ?", params + [name]
        return list(self.db["metrics"].rows_where(where, params, order_by="step"))

    def add_eval_results(self, run_id: int, results: Iterable[dict[str, Any]]) -> None:
        rows = [self._result_row(run_id, result) for result in results]
        with self.transaction():
            self.db["eval_results"].insert_all(rows)

    @staticmethod
    def _result_row(run_id: int, result: dict[str, Any]) -> dict[str, Any]:
        row = {"run_id": run_id, "created_at": now(), **result}
        if isinstance(row.get("settings"), dict):
            row["settings"] = dumps(row["settings"])
        return row

    def eval_results(self, run_id: int) -> list[dict[str, Any]]:
        return list(self.db["eval_results"].rows_where("run_id = ?", [run_id], order_by="id"))

    def add_samples(self, run_id: int, samples: Iterable[dict[str, Any]]) -> list[int]:
        """Store per-sample outputs (already scrubbed by the caller); returns their ids."""
        ids = []
        with self.transaction():
            for sample in samples:
                row = {"run_id": run_id, **_json_fields(sample, ("scores", "categories", "meta"))}
                ids.append(self.db["samples"].insert(row).last_pk)
        return ids

    def samples(self, run_id: int, task: str | None = None) -> list[dict[str, Any]]:
        where, params = "run_id = ?", [run_id]
        if task is not None:
            where, params = where + " and task = ?", params + [task]
        return list(self.db["samples"].rows_where(where, params, order_by="id"))

    def add_gate_decisions(self, run_id: int, decisions: Iterable[dict[str, Any]]) -> None:
        rows = [{"run_id": run_id, "created_at": now(), **decision} for decision in decisions]
        with self.transaction():
            self.db["gate_decisions"].insert_all(rows)

    def add_rating(self, rating: dict[str, Any]) -> int:
        row = {"created_at": now(), **_json_fields(rating, ("tags",))}
        with self.transaction():
            return self.db["ratings"].insert(row).last_pk


def _json_fields(values: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    return {
        key: dumps(value) if key in columns and not isinstance(value, str) else value
        for key, value in values.items()
    }
