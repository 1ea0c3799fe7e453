"""Bad input: one clear message with file and line, exit status 2, the data store unchanged.

"Unchanged" means no dataset and no example rows; the failed attempt is recorded as a
failed import run, so `ftp runs` shows what went wrong.
"""

from __future__ import annotations

import json

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
        [], "d.jsonl:1: message 1 has role 'robot'"),
    "unknown_suffix": ("d.xlsx", b"whatever", [], "d.xlsx: cannot tell the file type"),
}


def _snapshot(project) -> tuple[int, int]:
    db = project.store.db
    return db["datasets"].count, db["examples"].count


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_clear_message_and_stores_nothing(project, invoke, case):
    name, content, args, expected = CASES[case]
    (project.root / name).write_bytes(content)
    before = _snapshot(project)
    result = invoke("data", "import", name, *args)
    assert result.exit_code == 2, result.output
    assert expected in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output
    assert _snapshot(project) == before


def test_a_failed_import_is_a_failed_run_and_leaves_no_rows(project, invoke):
    (project.root / "d.jsonl").write_text(f"{GOOD}\n{GOOD2}\nnot json\n")
    assert invoke("data", "import", "d.jsonl").exit_code == 2
    run = project.store.list_runs(kind="import")[0]
    assert run.status == "failed" and "d.jsonl:3" in run.error
    assert _snapshot(project) == (0, 0)


def test_missing_source_and_bad_mapping_syntax(project, invoke):
    result = invoke("data", "import", "nope.jsonl")
    assert result.exit_code == 2 and "nope.jsonl: no such file" in result.output
    (project.root / "d.jsonl").write_text(GOOD + "\n")
    result = invoke("data", "import", "d.jsonl", "--map", "instruction")
    assert result.exit_code == 2 and "bad field mapping 'instruction'" in result.output


def test_unknown_dataset_reference(project, invoke):
    result = invoke("data", "diff", "a@1", "b")
    assert result.exit_code == 2 and "no dataset 'a@1'" in result.output
