"""``evaluate()``: run a suite of evaluators on a model as one ``eval`` run in the store.

For each evaluator the result cache is consulted first (model weights hash + config hash);
a hit copies the earlier run's results and samples, so re-evaluating an unchanged model is
instant. Generated outputs are scrubbed and categorised before they are stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ftp import registry
from ftp.errors import NotFound, UserError
from ftp.plugins.evaluation import fingerprint
from ftp.plugins.evaluation.categorize import categorize_samples
from ftp.plugins.evaluation.job import EvalJob, EvalSettings
from ftp.plugins.evaluation.settings import check_settings
from ftp.plugins.models.loading import find_train_run, preflight
from ftp.privacy import build_scrubber
from ftp.progress import info

if TYPE_CHECKING:
    from ftp.project import Project
    from ftp.store import RunRecord


@dataclass
class EvalOutcome:
    run: RunRecord
    results: list[dict[str, Any]]
    cached: list[str]


def resolve_evaluators(names: list[str], extra: list[Any] = ()) -> list[tuple[str, Any]]:
    found = registry.collect("evaluators")
    for name in names:
        if name in found.conflicts:
            raise found.conflict_error("evaluators", name)
    unknown = [name for name in names if name not in found]
    if unknown:
        raise NotFound(f"unknown evaluator {', '.join(map(repr, unknown))}; known: "
                       f"{', '.join(sorted(found))}")
    return [(name, found[name].obj) for name in names] + [(e.name, e) for e in extra]


def evaluate(project: Project, model_ref: str, suite: list[str],
             settings: EvalSettings | None = None, *, extra: list[Any] = (),
             name: str | None = None) -> EvalOutcome:
    """Evaluate ``model_ref`` (a model or a train run) on ``suite``; store everything."""
    settings = settings or EvalSettings()
    check_settings(settings)
    evaluators = resolve_evaluators(suite, list(extra))
    parent = find_train_run(project, model_ref)
    if parent is not None:  # pinned before the eval run exists: `latest` must not be it
        model_ref = str(parent.id)
    check_inputs(project, model_ref, evaluators, settings)
    weights = fingerprint.model_hash(model_ref, project)
    config = {"suite": [n for n, _ in evaluators], "settings": settings.pinned(),
              "device": settings.device, "model_hash": weights}
    run = None
    try:
        with project.run("eval", model=model_ref, name=name, config=config,
                         parent_id=parent.id if parent else None) as run:
            job = EvalJob(model_ref, settings, project, run)
            results, cached = [], []
            for evaluator_name, evaluator in evaluators:
                rows, hit = _run_one(job, evaluator_name, evaluator, weights)
                results.extend(rows)
                if hit:
                    cached.append(evaluator_name)
            run.summary.update(_summary(results, cached))
    except UserError:
        if run is not None:  # bad input found late (a model that will not load): no trace
            project.store.forget_run(run)
        raise
    return EvalOutcome(project.store.get_run(run.id), results, cached)


def check_inputs(project: Project, model_ref: str, evaluators: list[tuple[str, Any]],
                 settings: EvalSettings) -> None:
    """What can be wrong with the input, checked before the eval run is recorded: the model
    folder's files, and each evaluator's own ``check(project, settings)`` (the test split
    exists, the benchmark data is installed)."""
    preflight(model_ref, project)
    for _, evaluator in evaluators:
        check = getattr(evaluator, "check", None)
        if callable(check):
            check(project, settings)


def _run_one(job: EvalJob, name: str, evaluator: Any, weights: str
             ) -> tuple[list[dict[str, Any]], bool]:
    store = job.project.store
    detail = fingerprint.evaluator_identity(name, evaluator, job)
    settings = job.settings.pinned()
    key = fingerprint.config_hash(name, detail, settings)
    earlier = _cached_run(store, weights, key)
    if earlier is not None:
        info(f"{name}: unchanged model and config, results reused from eval run {earlier}")
        return _copy(store, earlier, job.run.id, key), True
    info(f"{name}: evaluating {job.model_ref}")
    rows = evaluator(job)
    stamped = [{**row, "model_hash": weights, "config_hash": key,
                "settings": {**settings, "evaluator": name}} for row in rows]
    samples = prepare_samples(job)
    with store.transaction():
        store.add_eval_results(job.run.id, stamped)
        store.add_samples(job.run.id, samples)
    return stamped, False


def _cached_run(store, weights: str, key: str) -> int | None:
    rows = store.db.execute(
        "select r.run_id from eval_results r join runs on runs.id = r.run_id "
        "where r.model_hash = ? and r.config_hash = ? and runs.status = 'finished' "
        "order by r.id desc limit 1", [weights, key]).fetchall()
    return rows[0][0] if rows else None


def _copy(store, source: int, target: int, key: str) -> list[dict[str, Any]]:
    rows = [dict(row) for row in store.db["eval_results"].rows_where(
        "run_id = ? and config_hash = ?", [source, key], order_by="id")]
    tasks = {row["task"] for row in rows}
    results = []
    for row in rows:
        row.pop("id"), row.pop("created_at")
        row["settings"] = {**_loads(row["settings"]), "cached_from": source}
        results.append({**row, "run_id": target})
    samples = [{k: v for k, v in sample.items() if k not in ("id", "run_id")}
               for sample in store.samples(source) if sample["task"] in tasks]
    with store.transaction():
        store.add_eval_results(target, [{k: v for k, v in r.items() if k != "run_id"}
                                        for r in results])
        store.add_samples(target, samples)
    return results


def _loads(text: Any) -> dict[str, Any]:
    return json.loads(text) if isinstance(text, str) and text else {}


def prepare_samples(job: EvalJob) -> list[dict[str, Any]]:
    rows = [{"task": task, **sample} for task, samples in job.samples.items()
            for sample in samples]
    job.samples.clear()
    generated = [row for row in rows if (row.get("meta") or {}).get("generated")]
    if generated:
        _scrub(job, generated)
        categorize_samples(generated)
    return rows


def _scrub(job: EvalJob, rows: list[dict[str, Any]]) -> None:
    scrubber = build_scrubber(job.project.config.get("privacy"))
    outputs = scrubber.scrub_texts([row.get("output") or "" for row in rows])
    for row, output in zip(rows, outputs, strict=True):
        row["output"] = output


def _summary(results: list[dict[str, Any]], cached: list[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {f"{r['task']}/{r['metric']}": r["value"] for r in results
                               if "/" not in r["task"]}
    if cached:
        summary["cached"] = cached
    return summary
