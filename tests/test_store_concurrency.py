"""Two commands on one store (real processes), the busy message, and the store's smaller
promises: paths relative to the project, a zombie counts as dead, `ftp eval latest`."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.bad_input_helpers import assert_one_line_exit_2, prepare_project


def _ftp(root: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ftp", "-q", *args], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})


def _records(path: Path, n: int, offset: int = 0) -> Path:
    with path.open("w") as handle:
        for i in range(offset, offset + n):
            handle.write(json.dumps({"instruction": f"Ticket {i}: the router drops the line "
                                                    f"every {i % 17 + 2} minutes",
                                     "output": f"Restart router {i}"}) + "\n")
    return path


@pytest.mark.slow  # four processes loading torch and presidio: 1-2 minutes on 2 cores
def test_import_eval_train_and_a_second_import_run_together(tmp_path, tiny_model):
    """import + eval, import + train and two imports at once: all finish, store consistent."""
    root = prepare_project(tmp_path / "project", tiny_model)
    _records(root / "a.jsonl", 2000)
    _records(root / "b.jsonl", 800, offset=10_000)
    children = {
        "import a": _ftp(root, "data", "import", "a.jsonl", "--name", "a"),
        "import b": _ftp(root, "data", "import", "b.jsonl", "--name", "b"),
        "eval": _ftp(root, "eval", str(tiny_model), "--limit", "2", "--json"),
        "train": _ftp(root, "train", "--data", "data", "--json"),
    }
    outcomes = {name: (child.wait(timeout=300), child.stderr.read())
                for name, child in children.items()}
    for name, (code, stderr) in outcomes.items():
        assert code == 0, f"{name}: {stderr}"
        assert "Traceback" not in stderr and "database is locked" not in stderr, stderr
    db = sqlite3.connect(root / ".ftp" / "ftp.db")
    statuses = db.execute("select kind, status from runs order by id").fetchall()
    assert sorted(statuses) == sorted([("import", "finished")] * 3 + [("eval", "finished"),
                                                                      ("train", "finished")])
    datasets = dict(db.execute("select name, json_extract(counts, '$.read') from datasets "
                               "where content_hash is not null").fetchall())
    assert datasets["a"] == 2000 and datasets["b"] == 800
    assert db.execute("select count(*) from datasets where content_hash is null").fetchone() \
        == (0,)
    per_dataset = dict(db.execute("select dataset_id, count(*) from examples "
                                  "group by dataset_id").fetchall())
    totals = dict(db.execute("select id, json_extract(counts, '$.total') from datasets"))
    assert per_dataset == totals


def test_other_writers_wait_at_most_a_chunk_while_an_import_runs(tmp_path, tiny_model):
    """A long import in another process commits in chunks: a run recorded here meanwhile
    (what eval and train do) waits for one chunk at most, and both finish."""
    from ftp.project import Project

    root = prepare_project(tmp_path / "project", tiny_model)
    _records(root / "a.jsonl", 1200)
    child = _ftp(root, "data", "import", "a.jsonl", "--name", "a")
    project = Project(root)
    waits, deadline = [], time.monotonic() + 240
    while child.poll() is None:
        assert time.monotonic() < deadline
        pending = project.store.db.execute(
            "select count(*) from datasets where content_hash is null").fetchone()[0]
        started = time.monotonic()
        with project.run("train") as run:
            project.store.log_metrics(run.id, 1, {"loss": 1.0})
        if pending:
            waits.append(time.monotonic() - started)
        time.sleep(0.2)
    assert child.wait() == 0, child.stderr.read()
    assert waits, "no write happened while the import was writing"
    assert max(waits) < 10, waits
    print(f"writes during the import: {len(waits)}, longest wait {max(waits):.2f} s")
    counts = project.store.db.execute(
        "select json_extract(counts, '$.read') from datasets where name = 'a'").fetchone()
    assert counts == (1200,)
    assert {r.status for r in project.store.list_runs()} == {"finished"}


def test_a_store_that_stays_busy_names_the_other_commands_pid(tmp_path, tiny_model):
    """Another process holds the write lock past the wait: one line with its pid, exit 2."""
    from ftp.project import Project

    root = prepare_project(tmp_path / "project", tiny_model)
    (root / "d.jsonl").write_text(json.dumps({"instruction": "a b", "output": "c"}) + "\n")
    project = Project(root)
    with project.run("import") as run:
        holder = sqlite3.connect(root / ".ftp" / "ftp.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            child = _ftp(root, "data", "import", "d.jsonl", FTP_STORE_TIMEOUT="1")
            _, stderr = child.communicate(timeout=120)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert child.returncode == 2, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert f"pid {os.getpid()} (`import` run {run.id})" in lines[0]
    assert "FTP_STORE_TIMEOUT" in stderr


def test_write_transactions_take_the_lock_up_front(project):
    """BEGIN IMMEDIATE: inside a transaction, a second connection cannot start writing."""
    with project.store.transaction():
        other = sqlite3.connect(project.store.path, timeout=0.1)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()


def test_a_killed_import_leaves_no_pending_rows(project):
    """A dataset still pending (no content hash) whose import died is removed on open."""
    from ftp.project import Project

    store = project.store
    run = store.start_run("import", artifacts_root=project.runs_dir)
    with store.transaction() as db:
        dataset = db["datasets"].insert({"name": "x", "version": 1}).last_pk
        db["examples"].insert({"dataset_id": dataset, "idx": 0, "split": "train"})
        db["runs"].update(run.id, {"dataset_id": dataset, "pid": 2 ** 22 + 1})
    store.close()
    reopened = Project(project.root).store
    assert reopened.db["datasets"].count == 0 and reopened.db["examples"].count == 0
    assert reopened.get_run(run.id).status == "failed"


def test_a_zombie_counts_as_dead():
    from ftp.store import process_alive, process_start_time

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_start_time(child.pid)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        assert not process_alive(child.pid, started)  # exited, not yet reaped
        assert process_alive(os.getpid(), process_start_time(os.getpid()))
    finally:
        child.wait()


def test_a_copied_project_reads_and_writes_its_own_folders(project, tmp_path):
    from ftp.project import Project

    with project.run("train") as run:
        project.store.update_run(run.id, summary={
            "final_model": str(Path(run.artifacts_path) / "final")})
    stored = project.store.db.execute("select artifacts_path, summary from runs").fetchone()
    assert stored[0] == f".ftp/runs/{run.id}" and '".ftp/runs/' in stored[1]
    copy = tmp_path / "moved"
    shutil.copytree(project.root, copy)
    moved = Project(copy).store.get_run(run.id)
    assert moved.artifacts_path == str(copy / ".ftp" / "runs" / str(run.id))
    assert moved.summary["final_model"] == str(copy / ".ftp" / "runs" / str(run.id) / "final")


def test_old_absolute_paths_are_rebased_by_a_migration(project, tmp_path):
    from sqlite_utils import Database

    from ftp.migrations import m005_relative_run_paths

    db = Database(project.store.path)
    db["runs"].insert({"kind": "train", "status": "finished",
                       "artifacts_path": "/elsewhere/proj/.ftp/runs/7",
                       "summary": json.dumps({"final_model": "/elsewhere/proj/.ftp/runs/7/final",
                                              "loss": 1.5})})
    m005_relative_run_paths(db)
    path, summary = db.execute("select artifacts_path, summary from runs").fetchone()
    assert path == ".ftp/runs/7"
    assert json.loads(summary) == {"final_model": ".ftp/runs/7/final", "loss": 1.5}
    run = project.store.list_runs()[0]
    assert run.artifacts_path == str(project.root / ".ftp" / "runs" / "7")


def test_eval_latest_right_after_train_evaluates_the_train_run(tmp_path, tiny_model, invoke,
                                                               monkeypatch):
    root = prepare_project(tmp_path / "project", tiny_model)
    monkeypatch.chdir(root)
    trained = invoke("-q", "train", "--json")
    assert trained.exit_code == 0, trained.output
    train_id = json.loads(trained.stdout)["id"]
    result = invoke("-q", "eval", "latest", "--limit", "2", "--json")
    assert result.exit_code == 0, result.output
    from ftp.project import Project

    run = Project(root).store.get_run(json.loads(result.stdout[result.stdout.index("{"):])["run"])
    assert run.parent_id == train_id and run.model == str(train_id)


def test_bad_input_message_helper_refuses_tracebacks():
    class Result:
        exit_code, output = 2, "Error: x\nTraceback (most recent call last):\n"

    with pytest.raises(AssertionError):
        assert_one_line_exit_2(Result())
