"""The store: migrations from blank, reopening, runs, a killed run detected."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import ftp
from ftp.errors import NotFound
from ftp.migrations import migrations
from ftp.store import Store

TABLES = {"datasets", "examples", "runs", "metrics", "eval_results", "samples",
          "gate_decisions", "ratings", "preferences"}


def test_migrates_from_blank_and_reopens(tmp_path):
    store = Store(tmp_path / "ftp.db")
    assert TABLES <= set(store.db.table_names())
    applied = [m.name for m in migrations.applied(store.db)]
    assert applied[0] == "m001_initial" and migrations.pending(store.db) == []
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    reopened = Store(tmp_path / "ftp.db")
    assert [m.name for m in migrations.applied(reopened.db)] == applied


def test_run_lifecycle_and_lookup(tmp_path):
    store = Store(tmp_path / "ftp.db")
    run = store.start_run("train", name="first", config={"lr": 0.1}, model="tiny")
    assert run.status == "running" and run.pid == os.getpid() and "ftp" in run.versions
    store.log_metrics(run.id, 1, {"loss": 2.0})
    store.log_metrics(run.id, 1, {"loss": 1.5})  # same step again: replaced, not doubled
    done = store.finish_run(run.id, summary={"final_loss": 1.5})
    assert done.status == "finished" and done.duration_s >= 0
    assert [m["value"] for m in store.metrics(run.id)] == [1.5]
    assert store.get_run("first").id == store.get_run("latest").id == run.id
    assert store.get_run(str(run.id)).config == {"lr": 0.1}
    with pytest.raises(NotFound, match="no run 'nope'"):
        store.get_run("nope")


def test_a_failed_transaction_writes_nothing(tmp_path):
    store = Store(tmp_path / "ftp.db")
    run = store.start_run("eval")
    with pytest.raises(RuntimeError), store.transaction():
        store.db["samples"].insert({"run_id": run.id, "output": "half"})
        raise RuntimeError("killed in the middle")
    assert store.samples(run.id) == []


def test_hook_ftp_run_started_ftp_run_finished(project, register_plugin):
    seen = []

    class Observer:
        @ftp.hookimpl
        def ftp_run_started(self, project, run):
            seen.append(("started", run.kind, run.status))

        @ftp.hookimpl
        def ftp_run_finished(self, project, run):
            seen.append(("finished", run.kind, run.status))

    register_plugin(Observer(), name="observer")
    with project.run("train") as run:
        assert os.path.isdir(run.artifacts_path)
    with pytest.raises(ValueError), project.run("eval"):
        raise ValueError("bad")
    assert seen == [("started", "train", "running"), ("finished", "train", "finished"),
                    ("started", "eval", "running"), ("finished", "eval", "failed")]
    assert project.store.get_run("latest").error == "ValueError: bad"


def test_a_killed_run_is_marked_failed_on_next_open(project):
    script = textwrap.dedent(f"""
        import os, signal
        from ftp.project import Project
        project = Project({str(project.root)!r})
        with project.run("train") as run:
            project.store.log_metrics(run.id, 1, {{"loss": 3.0}})
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode == -signal.SIGKILL
    reopened = Store(project.store.path)
    (run,) = reopened.list_runs()
    assert run.status == "failed" and "killed" in run.error
    assert reopened.recovered == [run.id]
    assert [m["value"] for m in reopened.metrics(run.id)] == [3.0]


def test_a_live_run_is_left_alone(project):
    run = project.store.start_run("train")
    assert Store(project.store.path).get_run(run.id).status == "running"
