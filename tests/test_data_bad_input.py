"""Bad input: one clear message with file and line, exit status 2, the data store unchanged.

"Unchanged" means every table has the rows it had (no dataset, no examples, no run) and no
run folder was left behind. A crash or kill of a running import is different: it stays a
failed run, so `ftp runs` shows what happened.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

GOOD = json.dumps({"instruction": "Say hello to the team", "output": "Hello team!"})
GOOD2 = json.dumps({"instruction": "Say goodbye to the team", "output": "Bye team!"})
CHAT = json.dumps({"messages": [{"role": "user", "content": "Hi"},
                                {"role": "assistant", "content": "Hello"}]})

CASES = {
    "malformed_json": ("d.jsonl", f"{GOOD}\n{{\"instruction\": \"x\", \n{GOOD2}\n".encode(),
                       [], "d.jsonl:2: malformed JSON"),
    "wrong_encoding": ("d.jsonl", GOOD.encode() + b"\n" +
                       '{"instruction": "caf\u00e9", "output": "x"}'.encode("latin-1") + b"\n",
                       [], "d.jsonl:2: not UTF-8 text (byte 0xe9"),
    "utf16": ("d.jsonl", (GOOD + "\n").encode("utf-16"), [], "d.jsonl:1: the file is UTF-16"),
    "missing_field": ("d.jsonl", f"{GOOD}\n{GOOD2}\n{json.dumps({'instruction': 'x y'})}\n"
                      .encode(), [], "d.jsonl:3: missing field 'output'"),
    "empty_field": ("d.jsonl", f"{GOOD}\n{json.dumps({'instruction': ' ', 'output': 'y'})}\n"
                    .encode(), [], "d.jsonl:2: empty field 'instruction'"),
    "unknown_format_record": ("d.jsonl", json.dumps({"question": "q", "answer": "a"}).encode(),
                              [], "d.jsonl:1: cannot tell the record format from fields "
                                  "question, answer"),
    "unknown_format_flag": ("d.jsonl", GOOD.encode(), ["--format", "sharegpt"],
                            "unknown record format 'sharegpt'"),
    "empty_file": ("d.jsonl", b"", [], "d.jsonl: no records: the source is empty"),
    "mixed_formats": ("d.jsonl", f"{GOOD}\n{GOOD2}\n{CHAT}\n".encode(), [],
                      "d.jsonl:3: mixed formats: this record is chat, but line 1 is alpaca"),
    "missing_mapped_column": ("d.jsonl", json.dumps({"q": "x y", "a": "b"}).encode(),
                              ["--map", "instruction=question,output=a"],
                              "d.jsonl:1: field mapping instruction=question: no field "
                              "'question' in the record (fields: q, a)"),
    "csv_missing_mapped_column": ("d.csv", b"q,a\nhello there,hi\n",
                                  ["--map", "instruction=question,output=a"],
                                  "d.csv:2: field mapping instruction=question: no field "
                                  "'question'"),
    "csv_extra_values": ("d.csv", b"instruction,output\nhello there,hi\na,b,c\n", [],
                         "d.csv:3: 1 more value(s) than columns"),
    "json_array_bad_record": ("d.json", b'[\n {"instruction": "a b", "output": "c"},\n'
                                        b' {"instruction": "d e"}\n]', [],
                              "d.json:3: missing field 'output'"),
    "chat_last_message_not_assistant": (
        "d.jsonl", json.dumps({"messages": [{"role": "user", "content": "Hi"}]}).encode(), [],
        "d.jsonl:1: the last message must be the assistant's"),
    "chat_bad_role": ("d.jsonl", json.dumps({"messages": [
        {"role": "robot", "content": "Hi"}, {"role": "assistant", "content": "x"}]}).encode(),
        [], "d.jsonl:1: message 1 has an unknown role (str)"),
    "unknown_suffix": ("d.xlsx", b"whatever", [], "d.xlsx: cannot tell the file type"),
}


def _snapshot(project) -> dict[str, object]:
    """Row counts of every table of ftp's schema (a plugin's own tables are the plugin's: the
    example plugin logs every run it sees), and the run folders on disk."""
    from tests.bad_input_helpers import core_tables

    db = project.store.db
    counts = {table: db[table].count for table in db.table_names() if table in core_tables()}
    folders = sorted(p.name for p in project.runs_dir.iterdir()) \
        if project.runs_dir.is_dir() else []
    return {"rows": counts, "run_folders": folders}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_clear_message_and_stores_nothing(project, invoke, case):
    name, content, args, expected = CASES[case]
    (project.root / name).write_bytes(content)
    before = _snapshot(project)
    assert before["rows"]["runs"] == 0 and "examples" in before["rows"]
    result = invoke("data", "import", name, *args)
    assert result.exit_code == 2, result.output
    assert expected in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output
    assert _snapshot(project) == before


def test_bad_input_after_good_imports_leaves_them_as_they_were(project, invoke):
    (project.root / "good.jsonl").write_text(f"{GOOD}\n{GOOD2}\n")
    assert invoke("data", "import", "good.jsonl").exit_code == 0
    before = _snapshot(project)
    (project.root / "good.jsonl").write_text(f"{GOOD}\n{GOOD2}\nnot json\n")
    result = invoke("data", "import", "good.jsonl")
    assert result.exit_code == 2 and "good.jsonl:3" in result.output
    assert _snapshot(project) == before
    assert [run.status for run in project.store.list_runs(kind="import")] == ["finished"]


def test_a_crash_during_import_stays_a_failed_run(project, invoke, monkeypatch):
    from ftp.plugins.data import importer

    def crash(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(importer, "_add_canaries", crash)
    (project.root / "d.jsonl").write_text(f"{GOOD}\n{GOOD2}\n")
    with pytest.raises(RuntimeError):
        invoke("data", "import", "d.jsonl")
    run = project.store.list_runs(kind="import")[0]
    assert run.status == "failed" and "disk on fire" in run.error
    assert project.store.db["datasets"].count == 0 and project.store.db["examples"].count == 0


def test_a_killed_import_is_marked_failed_on_next_open(project):
    from ftp.project import Project

    with (project.root / "big.jsonl").open("w") as handle:
        for i in range(40000):
            handle.write(json.dumps({"instruction": f"Ticket {i}: router slow again",
                                     "output": f"Answer {i}"}) + "\n")
    child = subprocess.Popen([sys.executable, "-m", "ftp", "data", "import", "big.jsonl"],
                             cwd=project.root, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not project.store.list_runs(kind="import", status="running"):
            assert child.poll() is None and time.monotonic() < deadline, "import ended early"
            time.sleep(0.1)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    project.store.close()
    reopened = Project.find(project.root)
    run = reopened.store.list_runs(kind="import")[0]
    assert run.status == "failed" and "killed" in run.error
    assert reopened.store.db["datasets"].count == 0


def test_missing_source_and_bad_mapping_syntax(project, invoke):
    result = invoke("data", "import", "nope.jsonl")
    assert result.exit_code == 2 and "nope.jsonl: no such file" in result.output
    (project.root / "d.jsonl").write_text(GOOD + "\n")
    result = invoke("data", "import", "d.jsonl", "--map", "instruction")
    assert result.exit_code == 2 and "bad field mapping 'instruction'" in result.output


def test_unknown_dataset_reference(project, invoke):
    result = invoke("data", "diff", "a@1", "b")
    assert result.exit_code == 2 and "no dataset 'a@1'" in result.output


def test_bad_input_in_a_pipeline_stage_keeps_the_stage_run(project):
    """`ftp run` records the import's run in its stage: that run stays, marked failed."""
    from ftp.errors import InputError
    from ftp.plugins.data.api import import_dataset
    from ftp.plugins.loop.pipeline_state import recording

    (project.root / "d.jsonl").write_text(f"{GOOD}\nnot json\n")
    with pytest.raises(InputError), recording(project.store, "data", "k"):
        import_dataset(project, project.root / "d.jsonl")
    run = project.store.list_runs(kind="import")[0]
    stage = next(project.store.db["pipeline_stages"].rows)
    assert run.status == "failed" and stage["run_id"] == run.id and stage["status"] == "failed"
    assert project.store.db["datasets"].count == 0 and project.store.db["examples"].count == 0
