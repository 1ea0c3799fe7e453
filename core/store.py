"""The project store: one SQLite file (``.ftp/ftp.db``) opened through sqlite-utils.

WAL mode lets a reader (datasette, `ftp runs`) look while a run writes. Every write that
belongs together happens in one transaction, so a killed process leaves no half-written
rows; a run whose process died while ``running`` is marked ``failed`` on the next open.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from ftp import __version__
from ftp.errors import NotFound, UserError
from ftp.migrations import capability_migrations, migrations

JSON_COLUMNS = ("config", "versions", "summary")
TRACKED_PACKAGES = ("torch", "transformers", "peft", "lm_eval", "presidio_analyzer", "trl")
# Summary values that are paths inside the project: stored relative to it, like
# artifacts_path, so a copied or moved project reads and writes its own folders.
PATH_KEYS = ("final_model",)
RUNS_MARK = "/.ftp/runs/"
# How long a write waits for another command's write to finish (seconds); each try waits
# BUSY_STEP_MS inside SQLite, then backs off. FTP_STORE_TIMEOUT overrides the total.
BUSY_TIMEOUT_S = 120.0
BUSY_STEP_MS = 10_000
_last_opened: list[Path] = []


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
    def from_row(cls, row: dict[str, Any], root: Path | None = None) -> RunRecord:
        """A row as stored; with ``root`` (the project folder), paths come back absolute."""
        values = dict(row)
        for column in JSON_COLUMNS:
            values[column] = json.loads(values[column]) if values.get(column) else {}
        if root is not None:
            values["artifacts_path"] = absolute(values.get("artifacts_path"), root)
            for key in PATH_KEYS:
                if isinstance(values["summary"].get(key), str):
                    values["summary"][key] = absolute(values["summary"][key], root)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def relative(path: str | None, root: Path) -> str | None:
    """``path`` relative to the project ``root`` when it is a run folder (or inside one).

    An absolute path of another copy of the project (``/old/place/.ftp/runs/3/final``) is
    rebased too: everything from ``.ftp/runs/`` on belongs to whichever copy reads it.
    """
    if not path or not os.path.isabs(path):
        return path
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        pass
    if RUNS_MARK in path:
        return ".ftp/runs/" + path.rsplit(RUNS_MARK, 1)[1]
    return path


def absolute(path: str | None, root: Path) -> str | None:
    """A stored path made absolute against ``root``; old absolute run paths are rebased."""
    if not path:
        return path
    return str(root / (relative(path, root) or path))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (guards against a reused pid), where /proc has it."""
    fields = _stat_fields(pid)
    return fields[19] if fields else None


def process_alive(pid: int, started: str | None) -> bool:
    """Whether ``pid`` still runs; a zombie (exited, not yet reaped: state Z) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    if fields and fields[0] in ("Z", "X"):
        return False
    return started is None or (fields[19] if fields else None) in (None, started)


def busy_error(path: Path | None = None) -> UserError:
    """One line for a store another command keeps locked: which command, and what to do."""
    path = path or (_last_opened[-1] if _last_opened else None)
    holders = _running_elsewhere(path) if path else []
    who = ", ".join(f"pid {r['pid']} (`{r['kind']}` run {r['id']})" for r in holders)
    waited = _busy_timeout()
    return UserError(f"{path or 'the project store'} is busy: another ftp command "
                     f"{f'({who}) ' if who else ''}is writing to it and did not finish "
                     f"within {waited:g} s",
                     hint="wait for it to finish and run this again, or raise the wait "
                          "with FTP_STORE_TIMEOUT=SECONDS")


def _running_elsewhere(path: Path) -> list[dict[str, Any]]:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            rows = connection.execute("select id, kind, pid from runs where status = "
                                      "'running' and pid != ? order by id",
                                      [os.getpid()]).fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        return []
    return [{"id": r[0], "kind": r[1], "pid": r[2]} for r in rows]


def _busy_timeout() -> float:
    try:
        return float(os.environ.get("FTP_STORE_TIMEOUT", BUSY_TIMEOUT_S))
    except ValueError:
        return BUSY_TIMEOUT_S


def package_versions() -> dict[str, str]:
    """Versions of the packages that change results, read without importing them."""
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
        # the project folder: run paths are stored relative to it (.ftp/ftp.db -> root)
        self.root = self.path.resolve().parent.parent
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _last_opened.append(self.path)
        try:
            self.db = Database(self.path)
            # SQLite's own wait, for every write (implicit ones too): up to 10 s, as before
            step = min(BUSY_STEP_MS, int(_busy_timeout() * 1000))
            self.db.execute(f"PRAGMA busy_timeout = {step}")
            self._retrying(self.db.enable_wal)
            self.db.execute("PRAGMA foreign_keys = ON")
            self._retrying(lambda: migrations.apply(self.db))
            for owned in capability_migrations():  # each capability's own tables
                self._retrying(lambda owned=owned: owned.apply(self.db))
        except sqlite3.DatabaseError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise busy_error(self.path) from None
            raise UserError(f"{self.path}: not a readable ftp store ({error})",
                            hint="it is not a SQLite database (or is damaged); move it "
                                 "away and `ftp init` again, or restore it from a copy"
                            ) from None
        self.recovered = self.mark_dead_runs_failed()

    def close(self) -> None:
        self.db.close()

    def _retrying(self, action: Any) -> Any:
        """Run ``action`` again while another process holds the write lock, backing off;
        past the wait, one clear error naming that process."""
        deadline, pause = time.monotonic() + _busy_timeout(), 0.05
        while True:
            try:
                return action()
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                if time.monotonic() + pause > deadline:
                    raise busy_error(self.path) from None
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """All writes inside commit together or not at all.

        The write lock is taken up front (``BEGIN IMMEDIATE``): a deferred transaction that
        read first cannot wait for a writer to finish in WAL mode, it fails at once. Nested
        blocks are savepoints of the outer transaction.
        """
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield self.db
            return
        self._retrying(lambda: self.db.conn.execute("BEGIN IMMEDIATE"))
        try:
            yield self.db
        except BaseException:
            self.db.conn.rollback()
            raise
        try:
            self.db.conn.execute("COMMIT")
        except BaseException:
            self.db.conn.rollback()
            raise

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
            run_id = self._next_id("runs")
            self.db["runs"].insert({"id": run_id, **row})
            if artifacts_root is not None:
                path = relative(str(Path(artifacts_root).resolve() / str(run_id)), self.root)
                self.db["runs"].update(run_id, {"artifacts_path": path})
        return self.get_run(run_id)

    def _next_id(self, table: str) -> int:
        """The next id of ``table``, never one used before (as SQLite's AUTOINCREMENT would
        give): a forgotten run's id stays taken, so a later run cannot be mistaken for it.
        Called inside the inserting transaction."""
        top = self.db.execute(f"select coalesce(max(id), 0) from [{table}]").fetchone()[0]
        mark = self.db.execute("select value from id_marks where name = ?", [table]).fetchone()
        next_id = max(top, mark[0] if mark else 0) + 1
        self.db.execute("insert into id_marks (name, value) values (?, ?) on conflict(name) "
                        "do update set value = excluded.value", [table, next_id])
        return next_id

    def finish_run(self, run_id: int, *, status: str = "finished",
                   summary: dict[str, Any] | None = None, error: str | None = None) -> RunRecord:
        run = self.get_run(run_id)
        started = datetime.fromisoformat(run.started_at) if run.started_at else None
        finished = datetime.now(UTC)
        update = {
            "status": status, "finished_at": finished.isoformat(timespec="seconds"),
            "duration_s": (finished - started).total_seconds() if started else None,
            "error": error,
            "summary": dumps(self._stored_paths({**run.summary, **(summary or {})})),
        }
        with self.transaction():
            self.db["runs"].update(run_id, update)
        return self.get_run(run_id)

    def update_run(self, run_id: int, **values: Any) -> None:
        """Set columns of a run; dict values of JSON columns are merged into what is there."""
        run = self.get_run(run_id)
        for column in JSON_COLUMNS:
            if column in values:
                merged = {**getattr(run, column), **values[column]}
                values[column] = dumps(self._stored_paths(merged) if column == "summary"
                                       else merged)
        if "artifacts_path" in values:
            values["artifacts_path"] = relative(values["artifacts_path"], self.root)
        with self.transaction():
            self.db["runs"].update(run_id, values)

    def unlink_dataset(self, dataset_id: int) -> None:
        """No run refers to ``dataset_id`` any more (a discarded or orphaned import's)."""
        with self.transaction() as db:
            db.execute("update runs set dataset_id = null where dataset_id = ?", [dataset_id])

    def _stored_paths(self, summary: dict[str, Any]) -> dict[str, Any]:
        return {key: relative(value, self.root) if key in PATH_KEYS and
                isinstance(value, str) else value for key, value in summary.items()}

    def forget_run(self, run: RunRecord) -> bool:
        """Remove a run a user's bad input stopped (and its folder), so the store is as it
        was; a run something refers to (a pipeline stage, an eval) stays, marked failed."""
        try:
            with self.transaction() as db:
                db["runs"].delete(run.id)
        except sqlite3.IntegrityError:
            return False
        if run.artifacts_path:
            shutil.rmtree(run.artifacts_path, ignore_errors=True)
        return True

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
        self._drop_orphaned_pending()
        return dead

    def _drop_orphaned_pending(self) -> None:
        """A killed import leaves its dataset pending (no content hash, so no reader sees
        it): remove its rows once no running run owns it."""
        orphans = [row[0] for row in self.db.execute(
            "select id from datasets where content_hash is null and id not in "
            "(select dataset_id from runs where status = 'running' and dataset_id is not null)")]
        for dataset_id in orphans:
            with self.transaction() as db:
                self.unlink_dataset(dataset_id)
                for table in ("examples", "canaries"):
                    if table in db.table_names():
                        db.execute(f"delete from {table} where dataset_id = ?", [dataset_id])
                db.execute("delete from datasets where id = ?", [dataset_id])

    def get_run(self, ref: int | str) -> RunRecord:
        """A run by id, by name, or ``latest``."""
        row = self._find_run(str(ref))
        if row is None:
            raise NotFound(f"no run {ref!r} in {self.path}", hint="`ftp runs` lists the runs")
        return RunRecord.from_row(row, self.root)

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
        return [RunRecord.from_row(row, self.root) for row in rows]

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
