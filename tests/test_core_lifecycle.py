"""One run lifecycle (ftp.lifecycle): start, resume, finish, fail, each firing the hooks;
the live pid recorded on resume; a raising hook reported in one line; ids never reused."""

from __future__ import annotations

import os

import pytest

import ftp
from ftp.store import Store


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, int, str, int | None]] = []

    @ftp.hookimpl
    def ftp_run_started(self, project, run):
        self.events.append(("started", run.id, run.status, run.pid))

    @ftp.hookimpl
    def ftp_run_finished(self, project, run):
        self.events.append(("finished", run.id, run.status, run.pid))


class Broken:
    @ftp.hookimpl
    def ftp_run_finished(self, run):
        raise RuntimeError("the dashboard is down\nsecond line")


def test_every_transition_fires_the_hooks_resume_included(register_plugin, project):
    recorder = Recorder()
    register_plugin(recorder, name="recorder")
    with pytest.raises(KeyError), project.run("custom", config={"x": 1}) as run:
        raise KeyError("boom")
    failed = project.store.get_run(run.id)
    assert failed.status == "failed" and failed.error == "KeyError: 'boom'"
    project.store.update_run(run.id, pid=999_999_999)  # the process that ran it is gone
    with project.resume(failed) as resumed:
        assert project.store.get_run(run.id).pid == os.getpid()  # the live process
        resumed.summary["answer"] = 42
    finished = project.store.get_run(run.id)
    assert finished.status == "finished" and finished.summary["answer"] == 42
    assert finished.error is None
    me = os.getpid()
    assert recorder.events == [("started", run.id, "running", me),
                               ("finished", run.id, "failed", me),
                               ("started", run.id, "running", me),
                               ("finished", run.id, "finished", me)]


def test_a_raising_hook_is_one_line_and_the_outcome_stands(register_plugin, project, capfd):
    register_plugin(Broken(), name="broken-dashboard")
    with project.run("custom") as run:
        run.summary["done"] = True
    stored = project.store.get_run(run.id)
    assert stored.status == "finished" and stored.summary["done"] is True
    lines = [line for line in capfd.readouterr().err.splitlines() if "broken-dashboard" in line]
    assert lines == ["warning: plugin broken-dashboard: ftp_run_finished failed (RuntimeError: "
                     "the dashboard is down); the run's outcome stands"]


def test_a_forgotten_runs_id_is_not_reused(project):
    first = project.store.start_run("import")
    assert project.store.forget_run(first)
    second = project.store.start_run("import")
    assert second.id == first.id + 1
    reopened = Store(project.store.path)  # the mark survives a new process
    assert reopened.start_run("import").id == second.id + 1


def test_the_id_mark_migration_starts_from_the_existing_runs(tmp_path):
    store = Store(tmp_path / "ftp.db")
    ids = [store.start_run("import").id for _ in range(3)]
    store.db.execute("delete from _sqlite_migrations where name = 'm006_id_marks'")
    store.db["id_marks"].drop()
    store.db["runs"].delete(ids[-1])
    store.db.conn.commit()
    store.close()
    migrated = Store(tmp_path / "ftp.db")
    assert migrated.db["id_marks"].get("runs")["value"] == ids[1]  # what the rows showed
    assert migrated.start_run("import").id == ids[1] + 1


def _notes_plugin(set_name: str):
    from sqlite_utils import Migrations

    owned = Migrations(set_name)

    @owned(name="m001_notes")
    def m001_notes(db):
        db["notes"].create({"id": int, "text": str}, pk="id")

    class Notes:
        @ftp.hookimpl
        def register_migrations(self, register):
            register(owned)

    return Notes()


def test_hook_register_migrations(register_plugin, tmp_path):
    from ftp.errors import PluginError

    register_plugin(_notes_plugin("notes-plugin"), name="notes")
    store = Store(tmp_path / "a" / "ftp.db")
    assert "notes" in store.db.table_names()
    sets = {r["migration_set"] for r in store.db["_sqlite_migrations"].rows}
    assert {"ftp", "notes-plugin"} <= sets
    register_plugin(_notes_plugin("notes-plugin"), name="notes-again")
    with pytest.raises(PluginError, match="'notes-plugin' are registered by both notes and "
                                          "notes-again"):
        Store(tmp_path / "b" / "ftp.db")


def test_a_run_whose_process_died_is_observed_failing(register_plugin, project):
    recorder = Recorder()
    register_plugin(recorder, name="recorder")
    run = project.store.start_run("train")
    project.store.update_run(run.id, pid=999_999_999)  # no such process
    reopened = ftp.open_project(str(project.root))
    assert reopened.store.get_run(run.id).status == "failed"
    assert recorder.events[-1][:3] == ("finished", run.id, "failed")
