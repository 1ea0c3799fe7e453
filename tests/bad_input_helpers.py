"""Helpers for the bad-input tests: a prepared project copied per case, a snapshot of every
table's rows, and the one-line-exit-2 assertion. No tests here."""

from __future__ import annotations

import json
import shutil
import sqlite3
from functools import lru_cache
from pathlib import Path
from typing import Any

from tests.test_train_support import make_records

CONFIG = """[model]
path = "{model}"

[data]
validation_fraction = 0.15
test_fraction = 0.25

[train]
max_steps = 2
batch_size = 4
save_steps = 2
eval_steps = 2

[privacy]
tier = "patterns"
"""


def prepare_project(root: Path, model: Path, records: int = 24) -> Path:
    """A project on ``model`` with one imported dataset (train, validation and test)."""
    from ftp.plugins.data.api import import_dataset
    from ftp.project import Project

    project = Project.init(root, name="bad-input")
    project.config_path.write_text(CONFIG.format(model=model))
    project.__dict__.pop("config", None)
    data = root / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in make_records(records)))
    import_dataset(project, data, name="data")
    project.store.close()
    return root


def copy_project(template: Path, target: Path) -> Path:
    shutil.copytree(template, target, dirs_exist_ok=True)
    return target


# The lifecycle's high-water mark of run ids: a run that bad input stopped is forgotten, but
# its id stays taken (plugins saw it through ftp_run_started), so the mark may move.
BOOKKEEPING = ("id_marks",)


@lru_cache(maxsize=1)
def core_tables() -> frozenset[str]:
    """The tables of ftp's own schema. A plugin's tables are the plugin's: one observing runs
    (the example plugin ftp-acme logs every start and finish) records the rejected run's
    events there, as it was told them."""
    from sqlite_utils import Database

    from ftp.migrations import migrations

    db = Database(memory=True)
    migrations.apply(db)
    return frozenset(db.table_names()) - set(BOOKKEEPING)


def snapshot(root: Path) -> dict[str, Any]:
    """Every row of every table of ftp's schema but the id marks (read-only, outside ftp),
    and the run folders on disk."""
    connection = sqlite3.connect(f"file:{root / '.ftp' / 'ftp.db'}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in connection.execute(
            "select name from sqlite_master where type = 'table' order by name")
            if row[0] in core_tables()]
        rows = {table: connection.execute(f"select * from [{table}] order by rowid").fetchall()
                for table in tables}
    finally:
        connection.close()
    runs = root / ".ftp" / "runs"
    folders = sorted(p.name for p in runs.iterdir()) if runs.is_dir() else []
    return {"rows": rows, "run_folders": folders}


def assert_one_line_exit_2(result: Any) -> str:
    """Exit 2, one ``Error:`` line (plus at most a hint), no traceback; the message."""
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    # click's own usage errors (a flag that is not a number) add its usage lines
    rest = [line for line in output.splitlines()
            if line.strip() and not line.startswith(("Error:", "Usage:", "Try '")) and
            not line.strip().startswith("hint:")]
    assert len(errors) == 1, output
    assert not rest, output
    return errors[0]
