"""Per-document text metrics for generated answers against references.

exact match, normalised match (case, punctuation, articles, whitespace as in SQuAD), token
F1, ROUGE-L (rouge-score), and for structured outputs JSON validity and per-field accuracy.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from functools import lru_cache
from typing import Any

from rouge_score import rouge_scorer

ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalise(text: str) -> str:
    text = (text or "").lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    return " ".join(ARTICLES.sub(" ", text).split())


def token_f1(output: str, reference: str) -> float:
    mine, theirs = normalise(output).split(), normalise(reference).split()
    if not mine or not theirs:
        return float(mine == theirs)
    common = sum((Counter(mine) & Counter(theirs)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(mine), common / len(theirs)
    return 2 * precision * recall / (precision + recall)


@lru_cache(maxsize=1)
def _rouge():
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(output: str, reference: str) -> float:
    if not (output or "").strip() or not (reference or "").strip():
        return float((output or "").strip() == (reference or "").strip())
    return float(_rouge().score(reference, output)["rougeL"].fmeasure)


def _json(text: str) -> Any:
    try:
        return json.loads((text or "").strip())
    except ValueError:
        return None


def structured(output: str, reference: str) -> dict[str, float]:
    """JSON validity, and for a JSON object reference the share of its fields matched."""
    expected = _json(reference)
    if not isinstance(expected, (dict, list)):
        return {}
    got = _json(output)
    scores = {"json_valid": float(got is not None)}
    if isinstance(expected, dict) and expected:
        same = sum(1 for k, v in expected.items() if isinstance(got, dict) and got.get(k) == v)
        scores["field_accuracy"] = same / len(expected)
    return scores


def score(output: str, reference: str) -> dict[str, float]:
    """Every metric for one document."""
    return {
        "exact_match": float((output or "").strip() == (reference or "").strip()),
        "normalized_match": float(normalise(output) == normalise(reference)),
        "token_f1": token_f1(output, reference),
        "rouge_l": rouge_l(output, reference),
        **structured(output, reference),
    }


def aggregate(per_doc: list[dict[str, float]]) -> list[dict[str, Any]]:
    """Mean and standard error of the mean for each metric present."""
    names = sorted({name for scores in per_doc for name in scores})
    rows = []
    for name in names:
        values = [scores[name] for scores in per_doc if name in scores]
        n = len(values)
        mean = sum(values) / n
        variance = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
        rows.append({"metric": name, "value": mean, "stderr": (variance / n) ** 0.5, "n": n})
    return rows
