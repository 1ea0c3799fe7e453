"""ftp's own recognizers, added to Presidio's through the ``register_pii_detectors`` hook.

* phone numbers in the formats ``phonenumbers`` rejects but people write (North American
  numbers with an unassigned area code, ``001-``/``+1`` prefixes, ``x1234`` extensions,
  ``+44(0)...`` trunk prefixes);
* Mastercard's 2-series numbers (2221-2720, issued since 2017), Luhn-checked;
* person names after a cue word (``Dear``, ``Name:``, ``customer``, ``it's``...): two to four
  capitalised words, accents and hyphens included. Spelled-out cues are what a small NER
  model misses most in forms, greetings and tickets.
"""

from __future__ import annotations

import re

from presidio_analyzer import LocalRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer

from ftp.privacy.engine import digits, gate

_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
_WORD = rf"[{_UPPER}][{_LOWER}'’]+(?:-[{_UPPER}]?[{_LOWER}'’]+)*"
_CUES = (r"Mr\.?|Mrs\.?|Ms\.?|Dr\.?|Prof\.?|[Dd]ear|Hi|Hello|Hey|[Nn]ame:?|[Cc]ustomer|"
         r"[Hh]older|it's|it is|I'm|I am|[Rr]egards,|[Cc]all|[Cc]ontact|[Aa]gent|[Ff]rom:|"
         r"[Tt]o:|[Ss]igned,?")
PERSON_CUE = re.compile(rf"(?<![\w-])(?:{_CUES})\s+(?P<name>{_WORD}(?:\s+{_WORD}){{1,3}})")
_EXTENSION = r"(?:\s?(?:x|ext\.?)\s?\d{1,6})?"
PHONE_PATTERNS = (
    rf"(?<![\w+])(?:(?:\+1|001|1)[-. ])?\(?\d{{3}}\)?[-. ]?\d{{3}}[-. ]\d{{4}}{_EXTENSION}\b",
    rf"(?<![\w+])\+\d{{1,3}}[-. ]?(?:\(0\)\s?)?\d{{1,4}}(?:[-. ]?\d{{2,4}}){{2,4}}{_EXTENSION}\b",
)
CARD_2_SERIES = r"\b2(?:2[2-9]\d|[3-6]\d\d|7[01]\d|720)[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b"


def phone_recognizer():
    """Phone numbers by shape, 10 to 15 digits before any extension."""
    class PhoneShapeRecognizer(PatternRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            number = re.split(r"x|ext", pattern_text)[0]
            return 10 <= sum(c.isdigit() for c in number) <= 15

    recognizer = PhoneShapeRecognizer(
        supported_entity="PHONE_NUMBER", name="ftp_phone_shapes",
        patterns=[Pattern(f"phone_{i}", regex, 0.4) for i, regex in enumerate(PHONE_PATTERNS)],
        context=["phone", "number", "call", "mobile", "tel", "cell"])
    gate(recognizer, lambda text: digits(text, 10))  # validate_result wants 10 or more
    return recognizer


def card_recognizer():
    """Presidio's credit-card recognizer (Luhn check) with the 2-series pattern."""
    from presidio_analyzer import Pattern
    recognizer = CreditCardRecognizer(
        patterns=[Pattern("mastercard_2_series", CARD_2_SERIES, 0.3)], name="ftp_card_2_series")
    gate(recognizer, lambda text: digits(text, 16))  # the pattern holds 16 digits
    return recognizer


def person_cue_recognizer():
    """Names right after a cue word; scored above NER so a cue beats a LOCATION guess."""
    class PersonCueRecognizer(LocalRecognizer):
        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            return [RecognizerResult("PERSON", m.start("name"), m.end("name"), 0.9,
                                     recognition_metadata={"recognizer_name": self.name,
                                                           "recognizer_identifier": self.id})
                    for m in PERSON_CUE.finditer(text)]

    recognizer = PersonCueRecognizer(supported_entities=["PERSON"], name="ftp_person_cues")
    recognizer.ftp_reads_entities_only = True  # ftp.privacy.batch: needs no lemmas
    return recognizer
