"""A project: a folder with ``ftp.toml`` and ``.ftp/`` (the store and run artifacts).

This is the Python API; the CLI commands are thin wrappers over these methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from ftp import config as config_module
from ftp import lifecycle
from ftp.errors import ProjectNotFound, UserError
from ftp.store import RunRecord, Store

STATE_DIR = ".ftp"
DB_NAME = "ftp.db"


class Project:
    """Open with ``Project.find()`` (current folder upwards) or ``Project.init(path)``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.config_path = self.root / config_module.CONFIG_NAME
        if not self.config_path.is_file():
            raise ProjectNotFound(f"{self.root} is not an ftp project (no ftp.toml)",
                                  hint="create one with `ftp init`")

    @classmethod
    def find(cls, start: Path | str | None = None) -> Project:
        """The project containing ``start`` (default: the current folder), like git."""
        here = Path(start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / config_module.CONFIG_NAME).is_file():
                return cls(folder)
        raise ProjectNotFound(f"no ftp.toml in {here} or any folder above it",
                              hint="create a project with `ftp init`")

    @classmethod
    def find_optional(cls, start: Path | str | None = None) -> Project | None:
        """The project containing ``start``, or None: commands that also work outside one
        (chat, latency, serve, scrub) use the project's settings when there is one."""
        try:
            return cls.find(start)
        except ProjectNotFound:
            return None

    @classmethod
    def init(cls, root: Path | str, name: str | None = None) -> Project:
        """Create ``ftp.toml`` and ``.ftp/`` in ``root``; refuse to overwrite a project."""
        root = Path(root).resolve()
        config_path = root / config_module.CONFIG_NAME
        if config_path.exists():
            raise UserError(f"{config_path} already exists; not overwriting it")
        root.mkdir(parents=True, exist_ok=True)
        config_path.write_text(config_module.template_text(name or root.name))
        project = cls(root)
        project.store  # noqa: B018 - creates the database and applies migrations
        return project

    @cached_property
    def config(self) -> dict[str, Any]:
        return config_module.load(self.config_path)

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    @cached_property
    def store(self) -> Store:
        store = Store(self.state_dir / DB_NAME)
        # runs whose process died were marked failed on open: a transition plugins observe
        lifecycle.recovered(self, [store.get_run(run_id) for run_id in store.recovered])
        return store

    @contextmanager
    def run(self, kind: str, **fields: Any) -> Iterator[RunRecord]:
        """Record a run: ``running`` inside the block, then ``finished`` or ``failed``.

        The run's artifact folder is created; plugins observe start and end through the
        ``ftp_run_started`` and ``ftp_run_finished`` hooks (``ftp.lifecycle``).
        """
        with lifecycle.running(self, lifecycle.start(self, kind, **fields)) as record:
            yield record

    @contextmanager
    def resume(self, run: RunRecord) -> Iterator[RunRecord]:
        """Continue a failed run in this process: ``running`` again (this pid, the
        ``ftp_run_started`` hook), then ``finished`` or ``failed`` like ``run``."""
        with lifecycle.running(self, lifecycle.resume(self, run)) as record:
            yield record

    def runs(self, kind: str | None = None, limit: int | None = None) -> list[RunRecord]:
        return self.store.list_runs(kind=kind, limit=limit)

    def show(self, ref: int | str) -> dict[str, Any]:
        """A run with its metrics' last values and its evaluation results."""
        run = self.store.get_run(ref)
        return {
            "run": run.to_dict(),
            "metrics": _last_values(self.store.metrics(run.id)),
            "eval_results": self.store.eval_results(run.id),
        }

    def compare(self, first: int | str, second: int | str) -> list[dict[str, Any]]:
        """Rows of (what, first value, second value, difference) for two runs."""
        a, b = self.show(first), self.show(second)
        values_a, values_b = _comparable(a), _comparable(b)
        rows = []
        for key in sorted(set(values_a) | set(values_b)):
            va, vb = values_a.get(key), values_b.get(key)
            diff = vb - va if va is not None and vb is not None else None
            rows.append({"what": key, "first": va, "second": vb, "difference": diff})
        return rows


def _last_values(rows: list[dict[str, Any]]) -> dict[str, float]:
    last: dict[str, float] = {}
    for row in rows:  # ordered by step
        last[f"{row['split']}/{row['name']}"] = row["value"]
    return last


def _comparable(shown: dict[str, Any]) -> dict[str, float]:
    values = {f"metric {key}": value for key, value in shown["metrics"].items()}
    for result in shown["eval_results"]:
        values[f"{result['task']} {result['metric']}"] = result["value"]
    for key, value in shown["run"]["summary"].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values.setdefault(f"summary {key}", value)
    return values
