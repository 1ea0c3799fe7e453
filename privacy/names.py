"""Person names from the context Presidio leaves to the user.

A small NER model misses names most where people write them most: introducing themselves
("My name is Daniel Mason", "This is Daniel Mason writing", "Daniel Mason here") and signing
off ("Thanks,\\nDaniel Mason"). Two recognizers find those by their context, and a second
look (``same_record_names``) replaces every other occurrence of a name already found once in
the same record, so a name the model caught in the greeting is not left in the signature.

A name is one to four capitalised words (accents, hyphens and apostrophes included); a
title before it (``Dr.``, ``Miss``) and a suffix after it (``DDS``, ``Jr.``) are read but
left out of the span: they do not identify anyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from presidio_analyzer import LocalRecognizer, RecognizerResult

_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
# "Ana", "O'Neil", "McDonald", "Jean-Luc"; not a word that starts a team's signature
_PART = rf"[{_UPPER}](?:[{_LOWER}]+|['’]?[{_UPPER}][{_LOWER}]+)+"
WORD = (rf"(?!(?:The|Team|Support|Customer|Your|Our|All|Everyone)\b){_PART}"
        rf"(?:-[{_UPPER}]?[{_LOWER}]+(?:['’]?[{_UPPER}][{_LOWER}]+)*)*")
TITLE = r"(?:(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame|Rev)\.?[ \t]+)?"
SUFFIX = r"(?:,?[ \t]+(?:Jr\.?|Sr\.?|I{2,3}|IV|[A-Z]{2,4}|Ph\.?D\.?))?"
_NAME = rf"(?P<name>{WORD}(?:[ \t]+{WORD}){{{{{{lo}},3}}}})"
# Strong cues: a name may be a single word ("My name is Ana."), lowercase cue or not.
_SAY = r"(?i:my[ \t]+name[ \t]+is|my[ \t]+name's|name:)[ \t]+"
SELF_INTRODUCTIONS = (
    re.compile(rf"(?<![\w-]){_SAY}{TITLE}{_NAME.format(lo=0)}"),
    # "This is Daniel Mason writing", "this is Dr. Ana Lima speaking"
    re.compile(rf"(?<![\w-])(?i:this[ \t]+is)[ \t]+{TITLE}{_NAME.format(lo=0)}{SUFFIX}"
               r"[ \t]+(?:writing|speaking|calling|here)\b"),
    # "Daniel Mason here" at the start of a line or a sentence (two words at least, or a
    # title: "Click here" and "Over here" are not names)
    re.compile(rf"(?:^|(?<=[.!?,:;]))[ \t]*{TITLE}{_NAME.format(lo=1)}{SUFFIX}[ \t]+here\b",
               re.MULTILINE),
    re.compile(rf"(?:^|(?<=[.!?,:;]))[ \t]*(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof)\.?[ \t]+"
               rf"{_NAME.format(lo=0)}{SUFFIX}[ \t]+here\b", re.MULTILINE),
)
SIGN_OFFS = ("Thanks", "Thank you", "Many thanks", "Thanks again", "Cheers", "Best",
             "Regards", "Best regards", "Kind regards", "Warm regards", "Warmest regards",
             "With regards", "Sincerely", "Yours sincerely", "Yours truly", "Yours",
             "All the best", "Best wishes", "Take care", "Respectfully", "Cordially")
# A sign-off word starting a line, a comma or not, then the name alone on its line (or after
# the comma on the same line): "Thanks,\nDaniel Mason", "Best regards, Ana".
SIGN_OFF = re.compile(
    rf"(?:^|(?<=\n))[ \t]*(?i:{'|'.join(sorted(SIGN_OFFS, key=len, reverse=True))})[ \t]*"
    rf"[,!.\-–—]?[ \t]*\r?\n?[ \t]*{TITLE}{_NAME.format(lo=0)}{SUFFIX}[ \t]*\.?(?=[ \t]*(?:\r?\n|$))")
TITLES_AND_SUFFIXES = frozenset({"Mr", "Mrs", "Ms", "Mx", "Miss", "Dr", "Prof", "Sir", "Dame",
                                 "Rev", "Jr", "Sr", "II", "III", "IV", "MD", "DDS", "DVM",
                                 "PhD"})
NAME_SCORE = 0.85  # above Presidio's NER (0.85 too, ranked after) and under the cue words


def context_matches(text: str) -> Iterable[tuple[int, int]]:
    """(start, end) of every name found by its context in ``text``."""
    for pattern in (*SELF_INTRODUCTIONS, SIGN_OFF):
        for match in pattern.finditer(text):
            yield match.start("name"), match.end("name")


def context_recognizer():
    """Self-introductions and sign-off lines, as a Presidio recognizer (no model needed)."""
    class PersonContextRecognizer(LocalRecognizer):
        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            metadata = {"recognizer_name": self.name, "recognizer_identifier": self.id}
            return [RecognizerResult("PERSON", start, end, NAME_SCORE,
                                     recognition_metadata=dict(metadata))
                    for start, end in sorted(set(context_matches(text)))]

    recognizer = PersonContextRecognizer(supported_entities=["PERSON"],
                                         name="ftp_person_context")
    recognizer.ftp_reads_entities_only = True  # ftp.privacy.batch: needs no lemmas
    return recognizer


# the second look ---------------------------------------------------------------------------

SECOND_LOOK = "ftp_same_record"


def _terms(name: str, allow: set[str]) -> set[str]:
    """The name itself and, for a name of several words, each word that could identify."""
    name = " ".join(name.split())
    words = [w.strip(".,") for w in name.split(" ")]
    terms = {name} if name not in allow else set()
    if len(words) > 1:
        terms |= {w for w in words if len(w) >= 3 and w[0].isupper()
                  and w not in TITLES_AND_SUFFIXES and w not in allow}
    return terms


def _pattern(terms: set[str]) -> re.Pattern | None:
    if not terms:
        return None
    alternatives = "|".join(re.escape(t).replace(r"\ ", r"\s+")
                            for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def same_record_names(texts: list[str], found: list[list],
                      allow_list: Iterable[str] = ()) -> list[list]:
    """``found`` with every other occurrence, in any of ``texts`` (one record's), of a person
    name found once among them; a new finding only where no finding is yet."""
    from presidio_analyzer import RecognizerResult

    names = {text[r.start:r.end] for text, results in zip(texts, found, strict=True)
             for r in results if r.entity_type == "PERSON"}
    allow = set(allow_list)
    pattern = _pattern(set().union(*(_terms(n, allow) for n in names))) if names else None
    if pattern is None:
        return found
    out = []
    for text, results in zip(texts, found, strict=True):
        extra = [RecognizerResult("PERSON", m.start(), m.end(), NAME_SCORE,
                                  recognition_metadata={"recognizer_name": SECOND_LOOK,
                                                        "recognizer_identifier": SECOND_LOOK})
                 for m in pattern.finditer(text) if _free(m.start(), m.end(), results)]
        out.append(sorted([*results, *extra], key=_start) if extra else results)
    return out


def _free(start: int, end: int, results: list[Any]) -> bool:
    return all(end <= r.start or start >= r.end for r in results)


def _start(result: Any) -> int:
    return result.start
