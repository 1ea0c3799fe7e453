"""What a report shows, read from the store: one plain dict, rendered as HTML or markdown.

A report is about runs the user names (``RUN`` and ``--compare``). Each named run brings its
family: its parent (the train run an eval run evaluated) and its children (eval runs, leakage
audits and sweep points started from it), so ``ftp report 3`` on a train run shows its loss
curve, the evaluations of its model, its audit and its gate decisions.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from ftp.store import RunRecord, Store


def _loads(text: Any, default: Any) -> Any:
    if not text:
        return default
    return json.loads(text) if isinstance(text, str) else text


def family(store: Store, run: RunRecord) -> list[RunRecord]:
    """The run, its parent and its children (one level each way), oldest first."""
    ids = {run.id}
    if run.parent_id:
        ids.add(run.parent_id)
    for row in store.db["runs"].rows_where("parent_id in (" + ",".join("?" * len(ids)) + ")",
                                           list(ids)):
        ids.add(row["id"])
    return [store.get_run(i) for i in sorted(ids)]


def label(run: RunRecord) -> str:
    return f"#{run.id} {run.kind}" + (f" {run.name}" if run.name else "")


def gather(store: Store, refs: list[str]) -> dict[str, Any]:
    """Everything the report shows for the named runs (the first is the subject)."""
    named = [store.get_run(ref) for ref in refs]
    runs: dict[int, RunRecord] = {}
    for run in named:
        for member in family(store, run):
            runs.setdefault(member.id, member)
    ordered = [runs[i] for i in sorted(runs)]
    return {
        "subject": named[0].to_dict(),
        "named": [run.id for run in named],
        "runs": [_run_summary(run) for run in ordered],
        "loss": _loss_curves(store, ordered),
        "results": _results(store, ordered),
        "errors": _error_categories(store, ordered),
        "scrub": _scrub_reports(store, ordered),
        "leakage": [r for r in _results(store, ordered) if r["task"] == "leakage"],
        "ratings": _ratings(store, ordered),
        "gates": _gates(store, ordered),
        "sweeps": _sweeps(store, ordered),
        "serving": _serving(ordered),
    }


def _run_summary(run: RunRecord) -> dict[str, Any]:
    return {"id": run.id, "label": label(run), "kind": run.kind, "status": run.status,
            "model": run.model, "dataset_id": run.dataset_id, "parent_id": run.parent_id,
            "started_at": run.started_at, "duration_s": run.duration_s,
            "error": getattr(run, "error", None)}


def _loss_curves(store: Store, runs: list[RunRecord]) -> list[dict[str, Any]]:
    curves = []
    for run in runs:
        by_split: dict[tuple[str, str], list[tuple[int, float]]] = {}
        for row in store.metrics(run.id):
            if "loss" in row["name"]:
                by_split.setdefault((row["split"], row["name"]), []).append(
                    (row["step"], row["value"]))
        for (split, name), points in sorted(by_split.items()):
            curves.append({"run": run.id, "label": label(run), "split": split, "name": name,
                           "steps": [p[0] for p in points], "values": [p[1] for p in points]})
    return curves


def _results(store: Store, runs: list[RunRecord]) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        for row in store.eval_results(run.id):
            rows.append({"run": run.id, "label": label(run), "task": row["task"],
                         "metric": row["metric"], "value": row["value"],
                         "stderr": row["stderr"], "n": row["n"]})
    return rows


def _error_categories(store: Store, runs: list[RunRecord]) -> dict[str, Any]:
    """Samples per error category for each run with samples, and the change from the first."""
    counts: dict[int, Counter] = {}
    totals: dict[int, int] = {}
    for run in runs:
        samples = store.samples(run.id)
        if not samples or run.kind == "audit":
            continue
        totals[run.id] = len(samples)
        counts[run.id] = Counter(name for s in samples
                                 for name in _loads(s["categories"], {}) or {})
    categories = sorted({name for counter in counts.values() for name in counter})
    run_ids = list(counts)
    rows = []
    for name in categories:
        values = [counts[r][name] for r in run_ids]
        rows.append({"category": name, "counts": values,
                     "change": values[-1] - values[0] if len(values) > 1 else None})
    return {"runs": run_ids, "labels": [label(store.get_run(r)) for r in run_ids],
            "totals": [totals[r] for r in run_ids], "rows": rows}


def _scrub_reports(store: Store, runs: list[RunRecord]) -> list[dict[str, Any]]:
    ids = sorted({run.dataset_id for run in runs if run.dataset_id})
    reports = []
    for dataset_id in ids:
        row = next(store.db["datasets"].rows_where("id = ?", [dataset_id]), None)
        if row is None:
            continue
        report = _loads(row["scrub_report"], {})
        reports.append({"dataset": dataset_id, "name": row["name"], "version": row["version"],
                        "counts": _loads(row["counts"], {}), "tier": report.get("tier"),
                        "entities": report.get("entities") or {},
                        "records": report.get("records"), "dropped": report.get("dropped")})
    return reports


def _ratings(store: Store, runs: list[RunRecord]) -> list[dict[str, Any]]:
    """Human review per run: ratings, pass rate, mean score."""
    rows = []
    for run in runs:
        found = list(store.db["ratings"].rows_where("run_id = ?", [run.id]))
        if not found:
            continue
        passed = [r["passed"] for r in found if r["passed"] is not None]
        scores = [r["score"] for r in found if r["score"] is not None]
        rows.append({"run": run.id, "label": label(run), "ratings": len(found),
                     "pass_rate": sum(passed) / len(passed) if passed else None,
                     "mean_score": sum(scores) / len(scores) if scores else None})
    return rows


def _gates(store: Store, runs: list[RunRecord]) -> list[dict[str, Any]]:
    ids = [run.id for run in runs]
    rows = store.db["gate_decisions"].rows_where(
        "run_id in (" + ",".join("?" * len(ids)) + ")", ids, order_by="id")
    return [dict(row) for row in rows]


def _serving(runs: list[RunRecord]) -> list[dict[str, Any]]:
    """Latency and cost under load (`ftp bench serve`): one row per model and concurrency."""
    return [{"run": run.id, **row} for run in runs if run.kind == "bench-serve"
            for row in run.summary.get("serving", [])]


def _sweeps(store: Store, runs: list[RunRecord]) -> list[dict[str, Any]]:
    """Learning curves: the scores a sweep run stored for its points (model, method,
    training examples, task, metric, value, stderr), as `ftp sweep` drew them."""
    return [row for run in runs if run.kind == "sweep" for row in run.summary.get("curve", [])]
