"""The one run lifecycle: start, resume, finish, fail, with the lifecycle hooks on each.

Every command that records a run goes through here (``Project.run`` to start one,
``Project.resume`` to continue a failed one), so each transition is stored the same way and
plugins observe every one: ``ftp_run_started`` on start and on resume (with the live process
recorded), ``ftp_run_finished`` on finish and on failure (a run whose process died is
marked failed when the store next opens, and observed then). A hook that raises is reported in
one line naming the plugin; the run's outcome stands.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftp.plugin_manager import get_plugin_manager, trace
from ftp.store import process_start_time

if TYPE_CHECKING:
    from ftp.project import Project
    from ftp.store import RunRecord


def notify(hook_name: str, **kwargs: Any) -> None:
    """Call every plugin's ``hook_name`` implementation; one that raises is reported in one
    line naming the plugin, and the others still run."""
    caller = getattr(get_plugin_manager().hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):  # pluggy's own calling order
        trace(hook_name, impl.plugin_name, "called")
        try:
            impl.function(**{name: kwargs[name] for name in impl.argnames})
        except Exception as error:  # a plugin's bug must not change a stored outcome
            # shown even under --quiet: the user should know a plugin they run is broken
            print(f"warning: plugin {impl.plugin_name}: {hook_name} failed "
                  f"({type(error).__name__}: {_first_line(error)}); the run's outcome stands",
                  file=sys.stderr, flush=True)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no message"


def start(project: Project, kind: str, **fields: Any) -> RunRecord:
    """Record a new ``running`` run (this process) with its artifact folder."""
    record = project.store.start_run(kind, artifacts_root=project.runs_dir, **fields)
    Path(str(record.artifacts_path)).mkdir(parents=True, exist_ok=True)
    notify("ftp_run_started", project=project, run=record)
    return record


def resume(project: Project, run: RunRecord) -> RunRecord:
    """Mark a failed run ``running`` again, owned by this process (its pid is what another
    ftp process checks before it marks the run dead)."""
    pid = os.getpid()
    project.store.update_run(run.id, status="running", pid=pid, error=None,
                             pid_started=process_start_time(pid), finished_at=None)
    record = project.store.get_run(run.id)
    notify("ftp_run_started", project=project, run=record)
    return record


def finish(project: Project, run: RunRecord, summary: dict[str, Any] | None = None
           ) -> RunRecord:
    record = project.store.finish_run(run.id, summary=summary)
    notify("ftp_run_finished", project=project, run=record)
    return record


def fail(project: Project, run: RunRecord, error: BaseException) -> RunRecord:
    record = project.store.finish_run(
        run.id, status="failed", error=f"{type(error).__name__}: {error}",
        summary={"traceback": traceback.format_exc()})
    notify("ftp_run_finished", project=project, run=record)
    return record


def recovered(project: Project, runs: list[RunRecord]) -> None:
    """Runs the store found ``running`` under a dead process and marked failed when it
    opened: plugins see them finish (failed) like any other run."""
    for run in runs:
        notify("ftp_run_finished", project=project, run=run)


@contextmanager
def running(project: Project, record: RunRecord) -> Iterator[RunRecord]:
    """Yield ``record`` (add to ``record.summary``); then finish it, or fail it and re-raise."""
    try:
        yield record
    except BaseException as error:
        fail(project, record, error)
        raise
    finish(project, record, record.summary)
