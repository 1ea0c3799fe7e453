"""Person names where people write them: introducing themselves and signing off.

The example task's 300 support emails, imported into a fresh project with the defaults
(`ner` tier), leave no generated person name anywhere in the store; the context recognizers
and the second look are tested on their own too.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from ftp.privacy.names import TITLES_AND_SUFFIXES, context_matches, same_record_names


def _name_words(name: str) -> set[str]:
    """The words of a generated name that identify someone (not Dr., Miss or DDS)."""
    return {w.strip(".,") for w in name.split() if w.strip(".,") not in TITLES_AND_SUFFIXES
            and w.strip(".,") not in {"Miss"}}


def test_the_example_data_leaves_no_name_in_the_store(project, invoke, tmp_path):
    from ftp.plugins.loop import tickets

    source = tickets.write_jsonl(tmp_path / "tickets.jsonl")
    records = list(tickets.generate())
    names = {r["input"].rsplit("\n", 1)[1] for r in records}  # every email is signed
    assert len(names) > 250
    result = invoke("data", "import", str(source))
    assert result.exit_code == 0, result.output
    connection = sqlite3.connect(project.root / ".ftp" / "ftp.db")
    stored = "\n".join(connection.iterdump())
    connection.close()
    words = set().union(*map(_name_words, names))
    left = sorted(w for w in words if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", stored))
    assert left == [], f"{len(left)} name words left in the store, e.g. {left[:5]}"
    assert stored.count("<PERSON>") >= 2 * len(records)  # introduction and signature


@pytest.mark.parametrize("text,expected", [
    ("This is Daniel Mason writing. I was charged twice.", ["Daniel Mason"]),
    ("Dear team,\nMy name is Ana. The router is down.", ["Ana"]),
    ("Hello,\nMr. Connor Rollins here. I would like a refund.", ["Connor Rollins"]),
    ("Hi team, Zoë O'Neil-Smith here. Please call.", ["Zoë O'Neil-Smith"]),
    ("Thanks,\nDaniel Mason", ["Daniel Mason"]),
    ("Kind regards,\nDr. Anne Roberts DVM\n", ["Anne Roberts"]),
    ("Best regards, Jean-Luc\n", ["Jean-Luc"]),
    ("Click here to reset it. Over here. Thanks,\nThe Acme Team", []),
    ("Thanks for the quick help, it works now.", []),
])
def test_introductions_and_sign_offs(text, expected):
    assert [text[a:b] for a, b in sorted(set(context_matches(text)))] == expected


def test_a_name_found_once_is_found_everywhere_in_the_record():
    from presidio_analyzer import RecognizerResult

    texts = ["Ticket from Daniel Mason about the router.", "Daniel called twice; Mason again.",
             "Thanks,\nDaniel Mason"]
    found = [[RecognizerResult("PERSON", 12, 24, 0.85)], [], []]
    again = same_record_names(texts, found)
    spans = [[t[r.start:r.end] for r in rs] for t, rs in zip(texts, again, strict=True)]
    assert spans == [["Daniel Mason"], ["Daniel", "Mason"], ["Daniel Mason"]]
    assert same_record_names(texts, found, allow_list=["Daniel Mason", "Daniel", "Mason"]) \
        == found
