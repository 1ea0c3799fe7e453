"""What the review page reads and writes: samples to rate, blind pairs, ratings, preferences.

A preference row records the two samples in the order the reviewer saw them (``sample_a``
left, ``sample_b`` right) and ``chosen`` is ``"a"``, ``"b"`` or ``"tie"``; which run each
side came from is only in the samples table, never on the page.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from ftp.errors import UserError
from ftp.store import Store, now

TASKLESS = ""


@dataclass
class Pair:
    prompt: str
    left: dict[str, Any]
    right: dict[str, Any]
    task: str


@dataclass
class ReviewSet:
    """The samples and pairs one review session shows."""

    run_ids: list[int]
    samples: list[dict[str, Any]]
    pairs: list[Pair] = field(default_factory=list)


def _sample_view(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "run_id": row["run_id"], "task": row["task"],
            "doc_id": row["doc_id"], "prompt": row["prompt"] or "", "output": row["output"] or "",
            "reference": row["reference"] or ""}


def load_review_set(store: Store, run_refs: list[str], *, task: str | None = None,
                    limit: int = 200, seed: int | None = None) -> ReviewSet:
    """The samples of ``run_refs`` (default: the latest run with samples) and, for two or
    more runs, blind pairs of the first two runs' outputs for the same prompts."""
    runs = [store.get_run(ref) for ref in run_refs] or [_latest_with_samples(store)]
    samples = []
    for run in runs:
        rows = store.samples(run.id, task=task)[:limit]
        if not rows:
            raise UserError(f"run {run.id} ({run.kind}) has no samples to review",
                            hint="`ftp eval` stores per-sample outputs; review an eval run")
        samples.extend(_sample_view(row) for row in rows)
    review = ReviewSet([run.id for run in runs], samples)
    if len(runs) >= 2:
        review.pairs = blind_pairs(samples, runs[0].id, runs[1].id, random.Random(seed))
    return review


def _latest_with_samples(store: Store):
    row = next(store.db.query(
        "select run_id from samples group by run_id order by run_id desc limit 1"), None)
    if row is None:
        raise UserError("no run in this project has samples to review",
                        hint="run `ftp eval` first; it stores per-sample outputs")
    return store.get_run(row["run_id"])


def blind_pairs(samples: list[dict[str, Any]], run_a: int, run_b: int,
                rng: random.Random) -> list[Pair]:
    """Outputs of two runs for the same (task, doc_id) or prompt, sides shuffled."""
    first = {_key(s): s for s in samples if s["run_id"] == run_a}
    pairs = []
    for sample in samples:
        other = first.get(_key(sample)) if sample["run_id"] == run_b else None
        if other is None:
            continue
        left, right = (other, sample) if rng.random() < 0.5 else (sample, other)
        pairs.append(Pair(sample["prompt"], left, right, sample["task"]))
    rng.shuffle(pairs)
    return pairs


def _key(sample: dict[str, Any]) -> tuple[str, str]:
    doc = sample["doc_id"]
    return (sample["task"] or TASKLESS, str(doc) if doc not in (None, "") else sample["prompt"])


def save_rating(store: Store, sample_id: int, reviewer: str, *, passed: bool | None = None,
                score: float | None = None, tags: list[str] | None = None,
                note: str = "") -> int:
    """A reviewer's rating of a sample; it replaces that reviewer's earlier one."""
    sample = _sample(store, sample_id)
    check_rating(score, passed, tags, note)
    row = {"sample_id": sample_id, "run_id": sample["run_id"], "reviewer": reviewer,
           "score": None if score is None else float(score),
           "passed": None if passed is None else int(passed),
           "tags": json.dumps(sorted(set(tags or []))), "note": note or "", "created_at": now()}
    with store.transaction():
        store.db.execute("delete from ratings where sample_id = ? and reviewer = ?",
                         [sample_id, reviewer])
        return store.db["ratings"].insert(row).last_pk


def check_rating(score: Any, passed: Any, tags: Any = None, note: Any = "") -> None:
    """A rating as the page, the API or an imported file gives it: ``score`` 1-5 or none,
    ``passed`` true/false or none (the string "no" is not a pass), tags a list of strings."""
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))
                              or not 1 <= score <= 5):
        raise UserError(f"score must be a number between 1 and 5, got {score!r}")
    if passed is not None and not isinstance(passed, bool) and passed not in (0, 1):
        raise UserError(f"passed must be true or false, got {passed!r}")
    if tags is not None and (not isinstance(tags, list)
                             or not all(isinstance(tag, str) for tag in tags)):
        raise UserError("tags must be a list of strings")
    if note is not None and not isinstance(note, str):
        raise UserError("note must be a string")


def save_preference(store: Store, pair: Pair, choice: str, reviewer: str,
                    note: str = "") -> int:
    if choice not in ("a", "b", "tie"):
        raise UserError(f"choice must be a, b or tie, got {choice!r}")
    row = {"prompt": pair.prompt, "sample_a": pair.left["id"], "sample_b": pair.right["id"],
           "chosen": choice, "reviewer": reviewer, "note": note or "", "created_at": now()}
    with store.transaction():
        store.db.execute("delete from preferences where sample_a in (?, ?) and sample_b in "
                         "(?, ?) and reviewer = ?",
                         [row["sample_a"], row["sample_b"], row["sample_a"], row["sample_b"],
                          reviewer])
        return store.db["preferences"].insert(row).last_pk


def _sample(store: Store, sample_id: int) -> dict[str, Any]:
    row = next(store.db["samples"].rows_where("id = ?", [sample_id]), None)
    if row is None:
        raise UserError(f"no sample {sample_id}")
    return row


def ratings_for(store: Store, sample_ids: list[int], reviewer: str) -> dict[int, dict]:
    """The reviewer's current ratings of these samples, by sample id."""
    if not sample_ids:
        return {}
    marks = ",".join("?" * len(sample_ids))
    rows = store.db.query(f"select * from ratings where reviewer = ? and sample_id in ({marks})",
                          [reviewer, *sample_ids])
    return {row["sample_id"]: {**row, "tags": json.loads(row["tags"] or "[]")} for row in rows}
