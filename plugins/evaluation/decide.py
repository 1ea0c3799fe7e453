"""Deciding gates for a candidate eval run against floors and a baseline eval run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ftp.errors import InputError
from ftp.plugins.evaluation import stats
from ftp.plugins.evaluation.gates import Gate, GateFile
from ftp.plugins.evaluation.tasks import MMLU_CATEGORIES, SUBJECT_CATEGORY

if TYPE_CHECKING:
    from ftp.store import Store


def decide(store: Store, gate_file: GateFile, candidate: int,
           baseline: int | None = None) -> list[dict[str, Any]]:
    """One decision per gate: passed, values, difference, p-value, interval, reason."""
    return [_decide(store, gate_file, gate, candidate, baseline) for gate in gate_file.gates]


def _decide(store: Store, gate_file: GateFile, gate: Gate, candidate: int,
            baseline: int | None) -> dict[str, Any]:
    if gate.source == "parity":
        from ftp.plugins.serving.parity import decide_parity

        return decide_parity(store, gate_file, gate, candidate, baseline)
    if gate.source == "ratings":
        value = ratings_value(store, candidate, gate.metric, gate.task)
        base = ratings_value(store, baseline, gate.metric, gate.task) if baseline else None
        return _verdict(gate, value, base, None, baseline)
    value = _result(store, candidate, gate, gate_file, "candidate")
    if baseline is None:
        return _verdict(gate, value, None, None, None)
    base = _result(store, baseline, gate, gate_file, "baseline")
    _same_settings(store, gate, candidate, baseline, gate_file)
    return _verdict(gate, value, base, _paired(store, gate, gate_file, candidate, baseline),
                    baseline)


def _result(store: Store, run: int, gate: Gate, gate_file: GateFile, role: str) -> float:
    rows = store.eval_results(run)
    for row in rows:
        if row["task"] == gate.task and row["metric"] == gate.metric:
            return float(row["value"])
    metrics = sorted({r["metric"] for r in rows if r["task"] == gate.task})
    known = (f"known metrics for {gate.task}: {', '.join(metrics)}" if metrics else
             f"tasks in run {run}: {', '.join(sorted({r['task'] for r in rows})) or 'none'}")
    raise InputError(f"gate {gate.name!r}: the {role} run {run} has no {gate.task} "
                     f"{gate.metric}; {known}", path=str(gate_file.path), line=gate.line)


def _settings(store: Store, run: int, task: str) -> dict[str, Any]:
    for row in store.eval_results(run):
        if row["task"] == task:
            values = json.loads(row["settings"] or "{}")
            return {k: v for k, v in values.items() if k not in ("cached_from", "evaluator")}
    return {}


def _same_settings(store: Store, gate: Gate, candidate: int, baseline: int,
                   gate_file: GateFile) -> None:
    mine, theirs = _settings(store, candidate, gate.task), _settings(store, baseline, gate.task)
    differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
    if differ:
        detail = ", ".join(f"{k} {theirs.get(k)} vs {mine.get(k)}" for k in differ)
        raise InputError(f"gate {gate.name!r}: baseline and candidate ran {gate.task} with "
                         f"different settings ({detail}); re-run with the same settings",
                         path=str(gate_file.path), line=gate.line)


def doc_scores(store: Store, run: int, task: str, metric: str) -> dict[str, float]:
    """Per-document values of ``metric`` (MMLU subjects and categories from ``mmlu``)."""
    rows = store.samples(run, task)
    keep = None
    if not rows and task.startswith("mmlu_"):
        part = task.removeprefix("mmlu_")
        subjects = MMLU_CATEGORIES[part].split() if part in MMLU_CATEGORIES else [part]
        keep = {s for s in subjects if s in SUBJECT_CATEGORY}
        rows = store.samples(run, "mmlu")
    found = {}
    for row in rows:
        if keep is not None and row["doc_id"].split("/", 1)[0] not in keep:
            continue
        value = json.loads(row["scores"] or "{}").get(metric)
        if isinstance(value, (int, float)):
            found[row["doc_id"]] = float(value)
    return found


def _paired(store: Store, gate: Gate, gate_file: GateFile, candidate: int,
            baseline: int) -> stats.PairedResult | None:
    if gate.test == "none":
        return None
    mine = doc_scores(store, candidate, gate.task, gate.metric)
    theirs = doc_scores(store, baseline, gate.task, gate.metric)
    if not mine or not theirs:
        return None
    if set(mine) != set(theirs):
        only_c, only_b = len(set(mine) - set(theirs)), len(set(theirs) - set(mine))
        raise InputError(f"gate {gate.name!r}: the baseline was evaluated on other documents "
                         f"({only_c} only in the candidate, {only_b} only in the baseline); "
                         "evaluate both with the same data and --limit",
                         path=str(gate_file.path), line=gate.line)
    keys = sorted(mine)
    b, c = [theirs[k] for k in keys], [mine[k] for k in keys]
    binary = stats.is_binary(b) and stats.is_binary(c)
    if gate.test == "mcnemar" or (gate.test == "auto" and binary):
        return stats.mcnemar(b, c, gate.alpha)
    return stats.paired_bootstrap(b, c, gate.alpha, gate_file.bootstrap_samples, gate_file.seed)


def _verdict(gate: Gate, value: float | None, base: float | None,
             paired: stats.PairedResult | None, baseline: int | None) -> dict[str, Any]:
    reasons, passed = [], True
    if value is None:
        passed = False
        reasons.append("no value (no ratings yet?)")
    elif gate.min is not None and value < gate.min:
        passed = False
        reasons.append(f"{value:.4f} is below the floor {gate.min:.4f}")
    difference = value - base if value is not None and base is not None else None
    if difference is not None and -difference > gate.max_drop:
        significant = paired is None or paired.p_value < gate.alpha
        if significant or not gate.significance:
            passed = False
            reasons.append(f"dropped {-difference:.4f} (> {gate.max_drop:.4f})"
                           + (f", p={paired.p_value:.3g} < {gate.alpha}" if paired else ""))
        else:
            reasons.append(f"dropped {-difference:.4f}, not significant "
                           f"(p={paired.p_value:.3g} >= {gate.alpha})")
    if passed and not reasons:
        reasons.append("ok")
    return {"gate": gate.name, "task": gate.task, "metric": gate.metric, "passed": passed,
            "value": value, "baseline_value": base, "difference": difference,
            "p_value": paired.p_value if paired else None,
            "ci_low": paired.ci_low if paired else None,
            "ci_high": paired.ci_high if paired else None,
            "test": paired.test if paired else None, "baseline_run_id": baseline,
            "reason": "; ".join(reasons)}


def ratings_value(store: Store, run: int | None, metric: str, task: str | None
                  ) -> float | None:
    """Human review aggregate over the run's rated samples: pass rate or mean score."""
    if run is None:
        return None
    sql = ("select ratings.passed, ratings.score from ratings join samples "
           "on samples.id = ratings.sample_id where samples.run_id = ?")
    params: list[Any] = [run]
    if task:
        sql, params = sql + " and samples.task = ?", params + [task]
    rows = store.db.execute(sql, params).fetchall()
    column = 0 if metric == "pass_rate" else 1
    values = [float(row[column]) for row in rows if row[column] is not None]
    return sum(values) / len(values) if values else None
