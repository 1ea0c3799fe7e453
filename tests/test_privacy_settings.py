"""A typo in [privacy] must never switch scrubbing off with exit 0: unknown entities and
operators are refused (listing the valid names), the score threshold must lie in 0-1, and a
setting that scrubs less than the defaults, or an entity an import never found, is warned
about in one line that quotes no value."""

from __future__ import annotations

import json

import pytest

from ftp.errors import ConfigError
from ftp.privacy.settings import check_privacy, valid_entities, weakening_warnings

PII = {"instruction": "Mail ana.lima@example.org or call +1 415-555-0132", "output": "ok"}


def _configure(project, lines: str) -> None:
    """An ftp.toml of only these [privacy] lines (every other key keeps its default)."""
    (project.root / "ftp.toml").write_text(f"[privacy]\n{lines}\n")


def _datasets(project) -> int:
    return project.store.db.execute("select count(*) from datasets").fetchone()[0]


@pytest.mark.parametrize("lines,message", [
    ('entities = ["PERSON", "EMAIL", "PHONE"]', "unknown entities 'EMAIL', 'PHONE'; valid: "
                                                 "PERSON, EMAIL_ADDRESS, PHONE_NUMBER"),
    ("score_threshold = 2.0", "between 0 and 1"),
    ("score_threshold = -0.1", "between 0 and 1"),
    ('operators = { EMAIL = "hash" }', "privacy.operators: unknown entity 'EMAIL'"),
    ('default_operator = "erase"', "'erase'"),
])
def test_a_typo_in_privacy_is_refused_and_nothing_is_stored(project, invoke, lines, message):
    _configure(project, lines)
    (project.root / "t.jsonl").write_text(json.dumps(PII) + "\n")
    result = invoke("data", "import", "t.jsonl")
    assert result.exit_code == 2, result.output
    assert message in result.output and "privacy" in result.output
    assert "Traceback" not in result.output and "ana.lima" not in result.output
    assert _datasets(project) == 0


def test_the_check_alone():
    check_privacy({"tier": "ner", "entities": ["PERSON", "EMPLOYEE_ID"],
                   "patterns": {"EMPLOYEE_ID": "EMP-\\d{6}"}, "score_threshold": 0})
    with pytest.raises(ConfigError, match="unknown privacy tier 'spacy'"):
        check_privacy({"tier": "spacy"})
    with pytest.raises(ConfigError, match="expected a number"):
        check_privacy({"score_threshold": "high"})
    assert "EMPLOYEE_ID" in valid_entities({"EMPLOYEE_ID": "x"})


def test_settings_that_scrub_less_are_warned_about():
    lines = weakening_warnings({"tier": "patterns", "entities": ["EMAIL_ADDRESS"],
                                "operators": {"PHONE_NUMBER": "keep"}, "score_threshold": 0.9})
    assert len(lines) == 4
    assert any("PERSON, PHONE_NUMBER" in line for line in lines)
    assert weakening_warnings({}) == []


def test_an_entity_never_found_is_warned_about_in_one_line(project, invoke):
    _configure(project, 'patterns = { EMPLOYEE_ID = "EMP-\\\\d{6}" }')
    (project.root / "t.jsonl").write_text(json.dumps(PII) + "\n")
    result = invoke("data", "import", "t.jsonl")
    assert result.exit_code == 0, result.output
    warning = [line for line in result.output.splitlines() if "EMPLOYEE_ID" in line]
    assert len(warning) == 1 and "found in 1 records" in warning[0]
    assert "ana.lima" not in result.output
    assert "US_SSN" not in warning[0]  # default entities absent from the data: no warning
