"""The ``parity`` gate: what you serve is what you gated.

It pairs a served eval run (``ftp eval http://.../v1``) with the in-process eval run of the
same model (``--baseline``), document by document on the test set::

    [[gate]]
    source = "parity"
    min_agreement = 1.0     # share of documents whose outputs are identical (default 1.0)
    # metric = "agreement"  # or "field_agreement": JSON outputs compared field by field

It reports the exact agreement, the per-field agreement of JSON outputs, and the paired
test (McNemar or bootstrap) on every metric both runs scored; it fails below
``min_agreement`` or when a shared metric differs significantly (p < alpha).
"""

from __future__ import annotations

import json
from typing import Any

from ftp.errors import InputError
from ftp.plugins.evaluation import stats

METRICS = ("agreement", "field_agreement")


def parity_gate(entry: dict[str, Any], path: Any, line: int | None, alpha: float) -> Any:
    """A ``Gate`` for a ``source = "parity"`` table (called by the gates file loader)."""
    from ftp.plugins.evaluation.gates import Gate

    def fail(message: str) -> InputError:
        return InputError(message, path=str(path), line=line)

    metric = entry.get("metric", "agreement")
    if metric not in METRICS:
        raise fail(f"parity gates measure {' or '.join(METRICS)}, not {metric!r}")
    floor = entry.get("min_agreement", entry.get("min", 1.0))
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor <= 1:
        raise fail(f"min_agreement must be a number between 0 and 1, got {floor!r}")
    task = entry.get("task", "testset")
    return Gate(task=task, metric=metric, name=str(entry.get("name") or f"parity/{task}"),
                line=line, min=float(floor), alpha=float(entry.get("alpha", alpha)),
                test=entry.get("test", "auto"), source="parity")


def agreement(served: dict[str, str], reference: dict[str, str]) -> dict[str, Any]:
    """Exact and per-field agreement over the documents both runs answered."""
    keys = sorted(set(served) & set(reference))
    same = [served[k] == reference[k] for k in keys]
    fields = [_field_agreement(served[k], reference[k]) for k in keys]
    fields = [f for f in fields if f is not None]
    return {"n": len(keys), "agreement": sum(same) / len(keys) if keys else None,
            "field_agreement": sum(fields) / len(fields) if fields else None,
            "json_documents": len(fields), "differing": [k for k, s in zip(keys, same,
                                                                            strict=True) if not s]}


def _field_agreement(a: str, b: str) -> float | None:
    """The share of fields (union of keys) with equal values, for two JSON objects."""
    try:
        left, right = json.loads(a), json.loads(b)
    except ValueError:
        return None
    if not isinstance(left, dict) or not isinstance(right, dict):
        return None
    keys = set(left) | set(right)
    if not keys:
        return 1.0
    return sum(1 for k in keys if k in left and k in right and left[k] == right[k]) / len(keys)


def decide_parity(store: Any, gate_file: Any, gate: Any, candidate: int,
                  baseline: int | None) -> dict[str, Any]:
    """The parity decision for ``candidate`` (served) against ``baseline`` (in-process)."""
    if baseline is None:
        raise InputError(f"gate {gate.name!r}: a parity gate needs the in-process run: "
                         "--baseline RUN|MODEL", path=str(gate_file.path), line=gate.line)
    served, reference = _samples(store, candidate, gate.task), _samples(store, baseline,
                                                                         gate.task)
    if not served or not reference:
        raise InputError(f"gate {gate.name!r}: both runs need {gate.task} samples "
                         f"(run {candidate}: {len(served)}, run {baseline}: {len(reference)})",
                         path=str(gate_file.path), line=gate.line)
    found = agreement({k: v["output"] for k, v in served.items()},
                      {k: v["output"] for k, v in reference.items()})
    tests = _paired_tests(served, reference, gate, gate_file)
    value = found[gate.metric]
    reasons, passed = [], True
    if found["n"] < max(len(served), len(reference)):
        passed = False
        reasons.append(f"only {found['n']} documents in both runs")
    if value is None or value < gate.min:
        passed = False
        reasons.append(f"{gate.metric} {_pct(value)} below {_pct(gate.min)}")
    significant = [f"{m} p={r.p_value:.3g}" for m, r in tests.items()
                   if r.difference != 0 and r.p_value < gate.alpha]
    if significant:
        passed = False
        reasons.append("served run differs significantly on " + ", ".join(significant))
    summary = (f"{gate.metric} {_pct(value)} of {found['n']} documents; field agreement "
               f"{_pct(found['field_agreement'])} of {found['json_documents']} JSON outputs; "
               f"paired tests on {len(tests)} metric(s)")
    worst = min(tests.values(), key=lambda r: r.p_value, default=None)
    return {"gate": gate.name, "task": gate.task, "metric": gate.metric, "passed": passed,
            "value": value, "baseline_value": 1.0, "difference": None if value is None
            else value - 1.0, "p_value": worst.p_value if worst else None,
            "ci_low": worst.ci_low if worst else None, "ci_high": worst.ci_high if worst
            else None, "test": worst.test if worst else None, "baseline_run_id": baseline,
            "reason": "; ".join(reasons + [summary]) if reasons else f"ok: {summary}",
            "parity": {**found, "tests": {m: {"test": r.test, "difference": r.difference,
                                              "p_value": r.p_value} for m, r in tests.items()}}}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _samples(store: Any, run: int, task: str) -> dict[str, dict[str, Any]]:
    found = {}
    for row in store.samples(run, task):
        found[row["doc_id"]] = {"output": row["output"] or "",
                                "scores": json.loads(row["scores"] or "{}")}
    return found


def _paired_tests(served: dict[str, Any], reference: dict[str, Any], gate: Any,
                  gate_file: Any) -> dict[str, stats.PairedResult]:
    keys = sorted(set(served) & set(reference))
    metrics = set.intersection(*({m for m, v in d[k]["scores"].items()
                                  if isinstance(v, (int, float))}
                                 for d in (served, reference) for k in keys)) if keys else set()
    results = {}
    for metric in sorted(metrics):
        b = [float(reference[k]["scores"][metric]) for k in keys]
        c = [float(served[k]["scores"][metric]) for k in keys]
        if gate.test == "mcnemar" or (gate.test == "auto" and stats.is_binary(b)
                                      and stats.is_binary(c)):
            results[metric] = stats.mcnemar(b, c, gate.alpha)
        elif gate.test != "none":
            results[metric] = stats.paired_bootstrap(b, c, gate.alpha,
                                                     gate_file.bootstrap_samples, gate_file.seed)
    return results
