"""Sweeps: every (model, method, fraction) trained on nested data subsets, each evaluated on
the test split (loss) and on ftp.toml's [eval] suite (testset, benchmarks) the way `ftp eval`
runs it, and learning curves drawn from the results (curves.py).

A sweep is a run of kind ``sweep``; its points are train runs with it as parent. Resuming
a sweep skips the points that finished and trains (or resumes) the rest.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from ftp import registry
from ftp.api import Project
from ftp.errors import UserError
from ftp.plugins.evaluation.cli_eval import configured
from ftp.plugins.evaluation.job import EvalJob
from ftp.plugins.evaluation.runner import resolve_evaluators
from ftp.plugins.loop import curves
from ftp.plugins.models import load_model
from ftp.plugins.training import data as train_data
from ftp.plugins.training import run as runner
from ftp.progress import info


def plan(models: list[str], methods: list[str], fractions: list[float]) -> list[dict[str, Any]]:
    for fraction in fractions:
        if not 0 < fraction <= 1:
            raise UserError(f"fractions must be in (0, 1], got {fraction}")
    return [{"model": m, "method": t, "fraction": f}
            for m in models for t in methods for f in sorted(fractions)]


def point_name(sweep_id: int, point: dict[str, Any]) -> str:
    model = Path(point["model"]).name or point["model"]
    return f"sweep{sweep_id}-{model}-{point['method']}-{point['fraction']:g}"


def run_sweep(project: Project, config: dict[str, Any], resume_ref: str | None = None):
    """Train and evaluate every point; returns the finished sweep RunRecord."""
    points = plan(config["models"], config["methods"], config["fractions"])
    if resume_ref is None:
        # the evaluation settings are pinned with the sweep: a resumed sweep scores alike
        config = {**config, "eval": dict(project.config.get("eval", {}))}
        _check_first_point(project, config, points[0])
        with project.run("sweep", config=config) as sweep:
            _run_points(project, sweep, points, config)
        return project.store.get_run(sweep.id)
    sweep = project.store.get_run(resume_ref)
    if sweep.kind != "sweep":
        raise UserError(f"run {sweep.id} is a {sweep.kind} run, not a sweep")
    # running again under this pid (another ftp process must not mark it dead), hooks fired
    with project.resume(sweep) as resumed:
        _run_points(project, resumed, plan(**{k: sweep.config[k] for k in
                                              ("models", "methods", "fractions")}),
                    sweep.config)
    return project.store.get_run(sweep.id)


def _check_first_point(project: Project, config: dict[str, Any], point: dict[str, Any]) -> None:
    """Bad models, methods, data or eval suite fail before the sweep is recorded."""
    for model in config["models"]:
        for method in config["methods"]:
            runner.prepare(project, _options(config, {**point, "model": model, "method": method}))
    check_suite(project, config["eval"])


def _options(config: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    return {"settings": {**config.get("settings", {}), "method": point["method"]},
            "model": point["model"], "dataset": config.get("dataset"),
            "fraction": point["fraction"]}


def _run_points(project: Project, sweep, points: list[dict[str, Any]], config: dict[str, Any]) -> None:
    done = {r.name: r for r in project.store.list_runs(kind="train") if r.parent_id == sweep.id}
    suite, settings = eval_plan(config.get("eval", project.config.get("eval", {})))
    rows: list[dict[str, Any]] = []
    for index, point in enumerate(points, 1):
        name = point_name(sweep.id, point)
        info(f"sweep point {index}/{len(points)}: {name}")
        existing = done.get(name)
        if existing is not None and existing.status == "finished":
            child = existing
        elif existing is not None:
            child = runner.resume(project, str(existing.id))
        else:
            child = runner.train(project, _options(config, point), name=name,
                                 parent_id=sweep.id)
        rows += evaluate_point(project, child, point, suite, settings)
    curve = curves.save(rows, Path(sweep.artifacts_path) / "learning_curve.png")
    keys = curves.panels(rows)
    primary = next((k for k in keys if k[0] != "test_loss"), keys[0] if keys else None)
    sweep.summary.update({"points": len(points), "learning_curve": str(curve), "curve": rows,
                          "metric": " ".join(primary) if primary else None})


def eval_plan(config: dict[str, Any]) -> tuple[list[str], Any]:
    """The [eval] suite and settings, as `ftp eval` runs them (the evaluation plugin's own);
    no suite when that plugin is not loaded (the test loss is still computed)."""
    if not registry.collect("evaluators"):
        return [], None
    return configured(config)


def check_suite(project: Project, config: dict[str, Any]) -> None:
    """Unknown evaluators, benchmarks not imported, no test split: said before any training
    (each evaluator's fingerprint reads its data without a model)."""
    suite, settings = eval_plan(config)
    if not suite:
        return
    job = EvalJob(model_ref="", settings=settings, project=project)
    for _, evaluator in resolve_evaluators(suite):
        if callable(getattr(evaluator, "fingerprint", None)):
            evaluator.fingerprint(job)


def evaluate_point(project: Project, child, point: dict[str, Any], suite: list[str],
                   settings: Any) -> list[dict[str, Any]]:
    """Test loss on the train run; the suite through `ftp eval`'s path (an eval run that is
    the train run's child, result cache included); both skipped when already stored."""
    store = project.store
    stored = [r for r in store.eval_results(child.id) if r["task"] == "test_loss"]
    if not stored:
        stored = [row for row in [test_loss(project, child)] if row is not None]
        store.add_eval_results(child.id, [_clean(r) for r in stored])
    results = list(stored)
    if suite:
        run = _finished_eval(project, child)
        if run is None:
            from ftp.plugins.evaluation.runner import evaluate

            run = evaluate(project, str(child.id), suite, settings, name=f"{child.name}-eval").run
        found = store.eval_results(run.id)
        results += [r for r in found if r["task"] in suite] or found
    base = {**point, "run_id": child.id, "examples": child.summary.get("train_examples")}
    return [{**base, **_clean(r)} for r in results]


def _finished_eval(project: Project, child):
    found = [r for r in project.store.list_runs(kind="eval")
             if r.parent_id == child.id and r.status == "finished"
             and r.name == f"{child.name}-eval"]
    return found[-1] if found else None


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    keep = ("task", "metric", "value", "stderr", "n")
    return {k: row.get(k) for k in keep}


def test_loss(project: Project, child) -> dict[str, Any] | None:
    """Mean per-example loss on the test split (standard error across examples)."""
    records = train_data.records(project, child.config.get("dataset"), "test")
    if not records:
        return None
    model, tokenizer = load_model(str(child.id), project)
    examples = train_data.encoded(project, records, tokenizer, "test")
    losses = []
    with torch.no_grad():
        for example in examples:
            ids = torch.tensor([example["input_ids"]])
            labels = torch.tensor([example["labels"]])
            losses.append(model(input_ids=ids, labels=labels, use_cache=False).loss.item())
    losses = [v for v in losses if math.isfinite(v)]
    if not losses:
        return None
    mean = sum(losses) / len(losses)
    var = sum((v - mean) ** 2 for v in losses) / (len(losses) - 1) if len(losses) > 1 else 0.0
    return {"task": "test_loss", "metric": "loss", "value": mean,
            "stderr": (var / len(losses)) ** 0.5, "n": len(losses)}
