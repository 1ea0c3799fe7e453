"""Skip reasons and error messages name the field and the problem, never the value: a bad
record full of PII leaves its e-mail address and name nowhere (output, store, files)."""

from __future__ import annotations

import json
import sqlite3

import pytest

EMAIL, NAME = "ana.lima@example.org", "Ana Lima"
BAD = [
    {"messages": [{"role": f"{NAME} <{EMAIL}>", "content": "hi"},
                  {"role": "assistant", "content": "hello"}]},
    {EMAIL: NAME, "phone": "+1 415-555-0132"},
    {"messages": f"{NAME}, {EMAIL}"},
    {"messages": [{"role": "user", "content": {"from": EMAIL}},
                  {"role": "assistant", "content": "ok"}]},
]
GOOD = [{"messages": [{"role": "user", "content": f"Classify ticket {i}"},
                      {"role": "assistant", "content": "billing"}]} for i in range(4)]


def _everything(project) -> str:
    """The store's every row and every file under the project's .ftp folder."""
    connection = sqlite3.connect(project.root / ".ftp" / "ftp.db")
    parts = list(connection.iterdump())
    connection.close()
    parts += [path.read_text(errors="replace") for path in (project.root / ".ftp").rglob("*")
              if path.is_file() and path.suffix in (".jsonl", ".json", ".log", ".txt")]
    return "\n".join(parts)


def test_skipped_records_leave_no_pii_anywhere(project, invoke):
    lines = [json.dumps(r) for r in GOOD[:2] + BAD + GOOD[2:]]
    (project.root / "t.jsonl").write_text("\n".join(lines) + "\n")
    result = invoke("data", "import", "t.jsonl", "--on-error", "skip")
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output
    skipped = list((project.root / ".ftp").rglob("skipped.jsonl"))
    assert skipped and len(skipped[0].read_text().splitlines()) == len(BAD)
    stored = _everything(project)
    for value in (EMAIL, NAME, "ana.lima", "Lima"):
        assert value not in result.output and value not in stored
    assert "unknown role (str)" in stored and "content must be text" in stored


@pytest.mark.parametrize("lines,message", [
    ([GOOD[0], BAD[0]], "t.jsonl:2: message 1 has an unknown role (str)"),
    ([BAD[1]], "t.jsonl:1: cannot tell the record format from fields phone, 1 other(s) not "
               "shown"),
    ([GOOD[0], BAD[2]], "t.jsonl:2: field 'messages' must be a non-empty list"),
])
def test_failing_on_a_pii_record_does_not_quote_it(project, invoke, lines, message):
    (project.root / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    result = invoke("data", "import", "t.jsonl")
    assert result.exit_code == 2 and message in result.output, result.output
    assert EMAIL not in result.output and NAME not in result.output
