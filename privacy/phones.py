"""Presidio's phone-number recognizer with candidates that cannot be valid skipped early.

Presidio runs ``phonenumbers.PhoneNumberMatcher`` once per region (eight by default). Each
matcher parses and validates every digit run it finds (IP addresses, dates, card numbers,
SSNs and their fragments), and most of that work fails: on the benchmark corpus about two
thirds of the parse-and-verify calls are for candidates that libphonenumber's own metadata
proves too short or too long for the region. This matcher skips exactly those, so the
matches are the same.

The proof, for leniency VALID (Presidio's default): a match needs ``is_valid_number``, which
needs the national significant number's length to be one of the possible lengths of the
general description of a region of the number's country code. Without a plus sign, without
the region's international (IDD) prefix, without letters and without the characters that
start an extension, ``parse`` keeps the region's own country code and builds the national
number from the candidate's digits, removing at most the country code and twice a national
prefix (a transform rule may only keep one captured group). So a candidate with fewer digits
than the shortest possible length, or more than the longest plus what may be removed, is
never valid. Checked against Presidio's recognizer on the corpora and on random digit
strings built around each region's prefixes (``tests/test_privacy_scrubber.py``).
"""

from __future__ import annotations

import re
from functools import cache
from re import _parser
from typing import Any

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, Leniency, PhoneMetadata, PhoneNumberMatcher
from presidio_analyzer import EntityRecognizer
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

# A plus sign, a letter, or what starts an extension without letters (phonenumbers'
# _EXTN_PATTERNS_FOR_PARSING: "#", "~", ",", ";" and their full-width forms).
_UNSAFE = re.compile(r"[+\uff0b#\uff03~\uff5e,;]|[^\W\d_]")
_ONE_GROUP = re.compile(r"\\\d")  # a transform that keeps one captured group, adds nothing
_LOOKAROUND = re.compile(r"\$|\(\?[=!<]")


@cache
def valid_digit_counts(region: str) -> tuple[int, int] | None:
    """Fewest and most digits a candidate parsed in ``region`` (no plus sign, no IDD
    prefix, no letters) may hold for the result to be valid; None: no bound proven."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or _LOOKAROUND.search(metadata.international_prefix or "$"):
        return None
    rule = metadata.national_prefix_transform_rule
    if rule is not None and not _ONE_GROUP.fullmatch(rule):
        return None
    shortest, longest = [], []
    for other in COUNTRY_CODE_TO_REGION_CODE.get(metadata.country_code, ()):
        described = PhoneMetadata.metadata_for_region_or_calling_code(metadata.country_code,
                                                                      other)
        possible = list(described.general_desc.possible_length) if described else []
        if not possible or min(possible) <= 0:
            return None
        shortest.append(min(possible))
        longest.append(max(possible))
    if not shortest:
        return None
    # parse may strip the country code (written without its plus sign), then a national
    # prefix or carrier code twice (once while extracting the country code, once after:
    # "1-1-1-206-..." in the US): at most this many digits more than the national number
    prefixes = [p for p in (metadata.national_prefix_for_parsing, metadata.national_prefix) if p]
    stripped = len(str(metadata.country_code)) + 2 * max(
        (re_width(p) for p in prefixes), default=0)
    return min(shortest), max(longest) + stripped


def re_width(pattern: str) -> int:
    """The longest text ``pattern`` can match (regex internals; a large number if unbounded)."""
    return min(_parser.parse(pattern).getwidth()[1], 1_000)


def cannot_be_valid(candidate: str, region: str) -> bool:
    """True when ``parse(candidate, region)`` can never give a valid number (see above)."""
    from phonenumbers import PhoneMetadata, normalize_digits_only

    bounds = valid_digit_counts(region)
    if bounds is None or _UNSAFE.search(candidate):
        return False
    digits = normalize_digits_only(candidate)
    if bounds[0] <= len(digits) <= bounds[1]:
        return False
    return not re.match(PhoneMetadata.metadata_for_region(region).international_prefix, digits)


def matcher_class() -> type:
    class ShortCandidateSkippingMatcher(PhoneNumberMatcher):
        def _parse_and_verify(self, candidate: str, offset: int) -> Any:
            if self.leniency == Leniency.VALID and cannot_be_valid(candidate,
                                                                   self.preferred_region):
                return None
            return super()._parse_and_verify(candidate, offset)

    return ShortCandidateSkippingMatcher


def phone_recognizer() -> Any:
    """Presidio's ``PhoneRecognizer`` (same regions, leniency, score and results) on the
    skipping matcher."""
    matcher = matcher_class()

    class FastPhoneRecognizer(PhoneRecognizer):
        ftp_reads_entities_only = True  # ftp.privacy.batch: reads no tokens or lemmas

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list:
            # Presidio's PhoneRecognizer.analyze, with the matcher swapped.
            results = []
            for region in self.supported_regions:
                for match in matcher(text, region, leniency=self.leniency):
                    try:
                        parsed = phonenumbers.parse(text[match.start:match.end])
                        region = phonenumbers.region_code_for_number(parsed)
                    except phonenumbers.NumberParseException:
                        pass
                    results.append(self._get_recognizer_result(match, text, region,
                                                               nlp_artifacts))
            return EntityRecognizer.remove_duplicates(results)

    return FastPhoneRecognizer(name="PhoneRecognizer")
