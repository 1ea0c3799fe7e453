"""`ftp scrub`: streaming files, reports, evaluation, and clear errors for bad input."""

from __future__ import annotations

import csv
import json

import pytest


def _no_leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_scrub_jsonl_writes_output_and_report(tmp_path, invoke):
    source = tmp_path / "data.jsonl"
    rows = [{"instruction": "mail bo@x.org", "output": "call 001-555-555-0100"},
            {"messages": [{"role": "user", "content": "ip 10.1.2.3"}]}]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke("scrub", str(source), "--report", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in (tmp_path / "data.scrubbed.jsonl").read_text().splitlines()]
    assert out == [{"instruction": "mail <EMAIL_ADDRESS>", "output": "call <PHONE_NUMBER>"},
                   {"messages": [{"role": "user", "content": "ip <IP_ADDRESS>"}]}]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["records"] == 2 and report["entities"] == {
        "EMAIL_ADDRESS": 1, "IP_ADDRESS": 1, "PHONE_NUMBER": 1}
    assert report["fields"]["messages"] == {"IP_ADDRESS": 1}
    assert "EMAIL_ADDRESS" in result.output


def test_scrub_csv_and_text(tmp_path, invoke):
    source = tmp_path / "t.csv"
    source.write_text('id,note\n1,"write to a@b.com\nthen wait"\n2,nothing\n')
    assert invoke("scrub", str(source), "-o", str(tmp_path / "o.csv")).exit_code == 0
    with (tmp_path / "o.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{"id": "1", "note": "write to <EMAIL_ADDRESS>\nthen wait"},
                    {"id": "2", "note": "nothing"}]
    text = tmp_path / "notes.txt"
    text.write_text("server 10.0.0.1 down\n\nok\n")
    assert invoke("scrub", str(text)).exit_code == 0
    assert (tmp_path / "notes.scrubbed.txt").read_text() == "server <IP_ADDRESS> down\n\nok\n"


def test_drop_operator_removes_records(tmp_path, invoke, project):
    project.config_path.write_text(project.config_path.read_text().replace(
        "operators = {}", 'operators = { CREDIT_CARD = "drop" }'))
    source = tmp_path / "d.jsonl"
    source.write_text('{"text": "card 4111111111111111"}\n{"text": "fine"}\n')
    result = invoke("scrub", str(source), "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o.jsonl").read_text() == '{"text": "fine"}\n'


@pytest.mark.parametrize("name, content, message", [
    ("bad.jsonl", b'{"text": "ok"}\n{"text": "caf\xe9"}\n',
     "bad.jsonl:2: not UTF-8 text (byte 0xe9 at column 14, byte offset 28)"),
    ("empty.jsonl", b"", "empty.jsonl: the file is empty"),
    ("broken.jsonl", b'{"text": "ok"}\n{"text": \n', "broken.jsonl:2: malformed JSON"),
    ("list.jsonl", b'[1, 2]\n', "list.jsonl:1: expected a JSON object"),
    ("ragged.csv", b"a,b\n1,2,3\n", "ragged.csv:2: 1 more value(s) than columns"),
    ("utf16.jsonl", '{"text": "x"}\n'.encode("utf-16"), "utf16.jsonl:1: the file is UTF-16"),
])
def test_bad_input_exits_2_with_position_and_leaves_nothing(tmp_path, invoke, name, content,
                                                            message):
    source = tmp_path / name
    source.write_bytes(content)
    result = invoke("scrub", str(source), "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert _no_leftovers(tmp_path, {name}) == []


def test_a_ten_megabyte_line_is_refused_after_good_lines(tmp_path, invoke):
    source = tmp_path / "huge.txt"
    with source.open("w") as handle:
        handle.write("first a@b.com\n" * 300)
        handle.write("x" * 10_000_000 + "\n")
    result = invoke("scrub", str(source), "-o", str(tmp_path / "out.txt"))
    assert result.exit_code == 2
    assert "huge.txt:301: line longer than 1,000,000 bytes (starts at byte 4,200)" in result.output
    assert _no_leftovers(tmp_path, {"huge.txt"}) == []


def test_usage_errors(tmp_path, invoke):
    assert invoke("scrub").exit_code == 2
    missing = invoke("scrub", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2 and "no such file" in missing.output
    same = tmp_path / "s.jsonl"
    same.write_text('{"a": "b"}\n')
    assert "overwrite the input" in invoke("scrub", str(same), "-o", str(same)).output


def test_evaluate_a_labelled_file(tmp_path, invoke):
    text = "Mail bo@x.org or call 001-555-555-0100 about Acme."
    samples = [{"full_text": text, "spans": [
        {"entity_type": "EMAIL_ADDRESS", "entity_value": "bo@x.org", "start_position": 5,
         "end_position": 13},
        {"entity_type": "PHONE_NUMBER", "entity_value": "001-555-555-0100",
         "start_position": 22, "end_position": 38}]}]
    labelled = tmp_path / "gold.json"
    labelled.write_text(json.dumps(samples))
    result = invoke("scrub", "--evaluate", str(labelled), "--report", str(tmp_path / "e.json"))
    assert result.exit_code == 0, result.output
    scores = json.loads((tmp_path / "e.json").read_text())["entities"]
    assert scores["EMAIL_ADDRESS"]["recall"] == 1.0 and scores["PHONE_NUMBER"]["recall"] == 1.0


@pytest.mark.parametrize("content, message", [
    ('[{"full_text": "abc", "spans": [{"entity_type": "X", "start_position": 2, '
     '"end_position": 9}]}]', "sample 0: span 2-9 (X) is outside the text of 3 characters"),
    ('[{"text": "abc"}]', "sample 0: expected an object with a string 'full_text'"),
    ('[{"full_text": "abc", "spans": [{"start_position": 0}]}]', "each span needs"),
    ('[{"full_text": ', "gold.json:1: malformed JSON"),
])
def test_malformed_labelled_file(tmp_path, invoke, content, message):
    labelled = tmp_path / "gold.json"
    labelled.write_text(content)
    result = invoke("scrub", "--evaluate", str(labelled), "--report", str(tmp_path / "e.json"))
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "e.json").exists()
