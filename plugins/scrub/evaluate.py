"""Precision, recall and F2 of a scrubber per entity type, on a labelled corpus.

Matching is by overlap of the same entity type: a labelled span counts as found when a
finding of its type overlaps it, and a finding counts as correct when it overlaps a labelled
span of its type. For privacy, recall matters more than precision, hence F2 (recall weighed
four times as much). Findings on allow-listed terms are counted separately: there must be none.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ftp.errors import InputError
from ftp.plugins.scrub.files import lines

TARGETS = {"EMAIL_ADDRESS": 0.95, "PHONE_NUMBER": 0.95, "CREDIT_CARD": 0.95, "US_SSN": 0.95,
           "IBAN_CODE": 0.95, "IP_ADDRESS": 0.95}
NER_TARGETS = {"PERSON": 0.85}


def load_labelled(path: Path) -> list[dict[str, Any]]:
    """A presidio-research JSON file (a list of samples) or JSONL (one sample per line)."""
    text = "\n".join(line for _, line in lines(path))
    try:
        samples = json.loads(text) if text.lstrip().startswith("[") else [
            json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise InputError(f"malformed JSON: {error.msg} (column {error.colno})",
                         path=str(path), line=error.lineno) from None
    for index, sample in enumerate(samples):
        _check_sample(sample, index, path)
    return samples


def _check_sample(sample: Any, index: int, path: Path) -> None:
    where = f"sample {index}"
    if not isinstance(sample, dict) or not isinstance(sample.get("full_text"), str):
        raise InputError(f"{where}: expected an object with a string 'full_text'", path=str(path))
    if not isinstance(sample.get("spans", []), list):
        raise InputError(f"{where}: 'spans' must be a list", path=str(path))
    length = len(sample["full_text"])
    for span in sample.get("spans", []):
        try:
            start, end = int(span["start_position"]), int(span["end_position"])
            entity = span["entity_type"]
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{where}: each span needs entity_type, start_position and "
                             f"end_position", path=str(path)) from None
        if not (0 <= start < end <= length) or not isinstance(entity, str):
            raise InputError(f"{where}: span {start}-{end} ({entity}) is outside the text "
                             f"of {length} characters", path=str(path))


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def f_beta(precision: float, recall: float, beta: float = 2.0) -> float:
    if precision == 0 and recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def evaluate(scrubber: Any, samples: list[dict[str, Any]],
             allow_terms: list[str] | None = None) -> dict[str, Any]:
    """Per entity type: labelled, found, true positives, precision, recall, F2."""
    found = scrubber.analyze_texts([s["full_text"] for s in samples])
    counts = {key: Counter() for key in ("gold", "recalled", "predicted", "correct")}
    allow_hits = 0
    for sample, results in zip(samples, found, strict=True):
        gold = [(s["entity_type"], (int(s["start_position"]), int(s["end_position"])))
                for s in sample.get("spans", [])]
        predicted = [(r.entity_type, (r.start, r.end)) for r in results]
        _tally(counts, gold, predicted)
        allow_hits += _allow_hits(sample["full_text"], predicted, allow_terms or [])
    return {"tier": scrubber.tier, "samples": len(samples), "allow_list_false_positives":
            allow_hits, "entities": _scores(counts)}


def _tally(counts: dict[str, Counter], gold: list, predicted: list) -> None:
    for entity, span in gold:
        counts["gold"][entity] += 1
        if any(e == entity and _overlaps(span, p) for e, p in predicted):
            counts["recalled"][entity] += 1
    for entity, span in predicted:
        counts["predicted"][entity] += 1
        if any(e == entity and _overlaps(span, g) for e, g in gold):
            counts["correct"][entity] += 1


def _allow_hits(text: str, predicted: list, terms: list[str]) -> int:
    hits = 0
    for term in terms:
        start = text.find(term)
        while start >= 0:
            span = (start, start + len(term))
            hits += sum(1 for _, p in predicted if _overlaps(span, p))
            start = text.find(term, start + 1)
    return hits


def _scores(counts: dict[str, Counter]) -> dict[str, dict[str, float]]:
    scores = {}
    for entity in sorted(set(counts["gold"]) | set(counts["predicted"])):
        gold, predicted = counts["gold"][entity], counts["predicted"][entity]
        recall = counts["recalled"][entity] / gold if gold else 0.0
        precision = counts["correct"][entity] / predicted if predicted else 0.0
        scores[entity] = {"labelled": gold, "found": predicted, "precision": round(precision, 4),
                          "recall": round(recall, 4), "f2": round(f_beta(precision, recall), 4)}
    return scores


def missed_targets(result: dict[str, Any], targets: dict[str, float]) -> dict[str, float]:
    """Entities whose recall is below its target (empty when every target is met)."""
    entities = result["entities"]
    return {e: entities.get(e, {}).get("recall", 0.0) for e, target in targets.items()
            if entities.get(e, {}).get("recall", 0.0) < target}
