"""Errors never echo a record: a malformed or unrecognised record is named by file, line and
reason (its text may hold PII, and errors end up on terminals and in CI logs)."""

from __future__ import annotations

import pytest

SECRETS = ("EMP-123456", "Jane", "Smith", "jane.smith@example.com", "555-0142")


@pytest.mark.parametrize(("name", "text", "line"), [
    # a CSV without a header: its first record becomes the "field names"
    ("people.csv", "EMP-123456,Jane Smith,jane.smith@example.com\nEMP-2,Joe,joe@x.org\n", 2),
    # JSON Lines whose second record is not valid JSON
    ("people.jsonl", '{"instruction": "hi", "output": "ok"}\n'
                     '{"instruction": "Call Jane Smith at 555-0142", EMP-123456}\n', 2),
    # JSON Lines whose record has none of the known shapes
    ("people.jsonl", '{"employee": "EMP-123456", "Jane Smith": "jane.smith@example.com"}\n', 1),
])
def test_a_bad_record_is_named_never_quoted(project, invoke, name, text, line):
    project.config_path.write_text('[privacy]\ntier = "patterns"\n')  # no NER model: fast
    path = project.root / name
    path.write_text(text)
    result = invoke("data", "import", str(path))
    assert result.exit_code == 2
    message = result.stderr
    assert f"{path}:{line}: " in message, message  # file and line
    assert not [s for s in SECRETS if s in message], message
    assert len(message.strip().splitlines()) <= 2  # one line, and a hint at most
