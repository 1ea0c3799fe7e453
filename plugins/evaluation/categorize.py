"""Built-in error categorizers and running every registered one over samples.

A categorizer is ``categorizer(sample) -> bool | str | None`` (truthy: the sample is in the
category; a string is the reason shown). ``sample`` has ``prompt``, ``output``,
``reference`` and ``meta`` (``max_new_tokens``, ``output_tokens``, ``alternatives``...).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from typing import Any

from spellchecker import SpellChecker

from ftp import registry

WORD = re.compile(r"[A-Za-z][A-Za-z']+")
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?")
NAME = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]{2,}")
REFUSAL = re.compile(
    r"\b(I can(?:no|')t|I cannot|I'm sorry|I am sorry|I am unable|I'm unable|I won't|"
    r"as an AI|I'm not able to|I am not able to|I must decline)\b", re.IGNORECASE)


def _words(text: str) -> list[str]:
    return [w.lower().strip("'") for w in WORD.findall(text or "")]


@lru_cache(maxsize=1)
def _spell():
    return SpellChecker()


def misspelling(sample: dict[str, Any]) -> str | None:
    known = set(_words(sample.get("prompt", ""))) | set(_words(sample.get("reference", "")))
    words = {w for w in _words(sample.get("output", "")) if len(w) > 2 and w not in known}
    wrong = sorted(_spell().unknown(words))
    return f"misspelled: {', '.join(wrong[:5])}" if wrong else None


def too_long(sample: dict[str, Any]) -> str | None:
    meta = sample.get("meta") or {}
    budget, used = meta.get("max_new_tokens"), meta.get("output_tokens")
    if budget and used is not None and used >= budget:
        return f"hit max_new_tokens ({budget})"
    out, ref = len(_words(sample.get("output", ""))), len(_words(sample.get("reference", "")))
    if ref and out > 2 * ref + 10:
        return f"{out} words against {ref} in the reference"
    return None


def too_short(sample: dict[str, Any]) -> str | None:
    output = (sample.get("output") or "").strip()
    ref = len(_words(sample.get("reference", "")))
    if not output and (sample.get("reference") or "").strip():
        return "empty output"
    out = len(_words(output))
    if ref >= 4 and out < ref / 2:
        return f"{out} words against {ref} in the reference"
    return None


def repetitive(sample: dict[str, Any]) -> str | None:
    words = _words(sample.get("output", ""))
    if len(words) < 8:
        return None
    trigrams = Counter(zip(words, words[1:], words[2:], strict=False))
    gram, count = trigrams.most_common(1)[0]
    if count >= 3:
        return f"'{' '.join(gram)}' repeated {count} times"
    bigrams = list(zip(words, words[1:], strict=False))
    distinct = len(set(bigrams)) / len(bigrams)
    return f"distinct-2 {distinct:.2f}" if len(words) >= 16 and distinct < 0.5 else None


def hallucination(sample: dict[str, Any]) -> str | None:
    source = f"{sample.get('prompt', '')} {sample.get('reference', '')}"
    lowered = source.lower()
    output = sample.get("output") or ""
    numbers = [n for n in NUMBER.findall(output) if n not in source]
    names = [n for n in NAME.findall(output) if n.lower() not in lowered]
    unsupported = list(dict.fromkeys(numbers + names))
    return f"not in input or reference: {', '.join(unsupported[:5])}" if unsupported else None


def inconsistent(sample: dict[str, Any]) -> str | None:
    alternatives = (sample.get("meta") or {}).get("alternatives") or []
    answers = {_normal(sample.get("output", ""))} | {_normal(a) for a in alternatives}
    if alternatives and len(answers) > 1:
        return f"{len(answers)} different answers in {len(alternatives) + 1} samples"
    return None


def _normal(text: str) -> str:
    return " ".join(_words(text))


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def format_error(sample: dict[str, Any]) -> str | None:
    reference = _json((sample.get("reference") or "").strip())
    wants_json = isinstance(reference, (dict, list)) or "json" in (sample.get("prompt") or
                                                                    "").lower()
    if not wants_json:
        return None
    output = _json((sample.get("output") or "").strip())
    if output is None:
        return "invalid JSON"
    if isinstance(reference, dict):
        if not isinstance(output, dict):
            return "expected a JSON object"
        missing = sorted(set(reference) - set(output))
        if missing:
            return f"missing keys: {', '.join(missing)}"
    return None


def refusal(sample: dict[str, Any]) -> str | None:
    match = REFUSAL.search(sample.get("output") or "")
    if match and not REFUSAL.search(sample.get("reference") or ""):
        return f"refused: '{match.group(0)}'"
    return None


BUILTIN = {
    "misspelling": (misspelling, "words not in the dictionary (nor in input or reference)"),
    "too_long": (too_long, "hit max_new_tokens or over twice the reference's length"),
    "too_short": (too_short, "empty or under half the reference's length"),
    "repetitive": (repetitive, "repeated trigrams or low distinct-2"),
    "hallucination": (hallucination, "numbers and names in neither input nor reference"),
    "inconsistent": (inconsistent, "answers that change across samples of one prompt"),
    "format_error": (format_error, "invalid JSON or missing fields"),
    "refusal": (refusal, "refuses where the reference answers"),
}


def categorize_samples(samples: list[dict[str, Any]]) -> None:
    """Set ``sample["categories"]`` = {category: reason} from every registered categorizer."""
    categorizers = registry.collect("error_categorizers")
    for sample in samples:
        found = {}
        for name, registered in categorizers.items():
            verdict = registered.obj(sample)
            if verdict:
                found[name] = verdict if isinstance(verdict, str) else True
        sample["categories"] = found
