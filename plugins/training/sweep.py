"""Sweeps: every (model, method, fraction) trained on nested data subsets, each evaluated on
the test split, and a learning curve drawn from the results.

A sweep is a run of kind ``sweep``; its points are train runs with it as parent. Resuming
a sweep skips the points that finished and trains (or resumes) the rest.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ftp.errors import UserError
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


def run_sweep(project, config: dict[str, Any], resume_ref: str | None = None):
    """Train and evaluate every point; returns the finished sweep RunRecord."""
    points = plan(config["models"], config["methods"], config["fractions"])
    if resume_ref is None:
        _check_first_point(project, config, points[0])
        with project.run("sweep", config=config) as sweep:
            _run_points(project, sweep, points, config)
        return project.store.get_run(sweep.id)
    sweep = project.store.get_run(resume_ref)
    if sweep.kind != "sweep":
        raise UserError(f"run {sweep.id} is a {sweep.kind} run, not a sweep")
    project.store.update_run(sweep.id, status="running", error=None)
    try:
        _run_points(project, sweep, plan(**{k: sweep.config[k] for k in
                                            ("models", "methods", "fractions")}), sweep.config)
    except BaseException as error:
        project.store.finish_run(sweep.id, status="failed", error=f"{type(error).__name__}: "
                                 f"{error}")
        raise
    return project.store.finish_run(sweep.id, summary=sweep.summary)


def _check_first_point(project, config: dict[str, Any], point: dict[str, Any]) -> None:
    """Bad models, methods or data fail before the sweep is recorded."""
    from ftp.plugins.training import run as runner

    for model in config["models"]:
        for method in config["methods"]:
            runner.prepare(project, _options(config, {**point, "model": model, "method": method}))


def _options(config: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    return {"settings": {**config.get("settings", {}), "method": point["method"]},
            "model": point["model"], "dataset": config.get("dataset"),
            "fraction": point["fraction"]}


def _run_points(project, sweep, points: list[dict[str, Any]], config: dict[str, Any]) -> None:
    from ftp.plugins.training import run as runner

    done = {r.name: r for r in project.store.list_runs(kind="train") if r.parent_id == sweep.id}
    rows = []
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
        if not project.store.eval_results(child.id):
            evaluate_point(project, child)
        rows.append(_row(project, child, point))
    curve = draw_learning_curve(rows, Path(sweep.artifacts_path) / "learning_curve.png")
    sweep.summary.update({"points": len(rows), "learning_curve": str(curve),
                          "metric": rows[0]["metric"] if rows else None})


def _row(project, child, point: dict[str, Any]) -> dict[str, Any]:
    results = project.store.eval_results(child.id)
    primary = next((r for r in results if r["task"] != "test_loss"), None) or results[0]
    return {**point, "run_id": child.id, "examples": child.summary.get("train_examples"),
            "metric": f"{primary['task']} {primary['metric']}", "value": primary["value"],
            "stderr": primary["stderr"]}


def evaluate_point(project, child) -> None:
    """Test loss always; the ``testset`` evaluator's scores where that plugin exists."""
    from ftp import registry

    rows = [test_loss(project, child)]
    evaluators = registry.collect("evaluators")
    if "testset" in evaluators:
        from ftp.plugins.evaluation.job import EvalJob, EvalSettings

        cfg = project.config["eval"]
        settings = EvalSettings(limit=cfg["limit"] or None, batch_size=cfg["batch_size"],
                                max_new_tokens=cfg["max_new_tokens"])
        job = EvalJob(model_ref=str(child.id), settings=settings, project=project, run=child)
        rows += [{"task": r.get("task", "testset"), **r}
                 for r in evaluators["testset"].obj(job)]
    project.store.add_eval_results(child.id, [_clean(r) for r in rows if r is not None])


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    keep = ("task", "metric", "value", "stderr", "n")
    return {k: row.get(k) for k in keep}


def test_loss(project, child) -> dict[str, Any] | None:
    """Mean per-example loss on the test split (standard error across examples)."""
    import torch

    from ftp.plugins.models import load_model
    from ftp.plugins.training import data as train_data

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


def draw_learning_curve(rows: list[dict[str, Any]], path: Path) -> Path:
    """Score against training examples, one line per model/method, standard-error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    lines: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        lines.setdefault((Path(row["model"]).name, row["method"]), []).append(row)
    for (model, method), points in lines.items():
        points.sort(key=lambda r: r["fraction"])
        xs = [r["examples"] or r["fraction"] for r in points]
        axes.errorbar(xs, [r["value"] for r in points], yerr=[r["stderr"] or 0 for r in points],
                      marker="o", capsize=3, label=f"{model} / {method}")
    axes.set_xlabel("training examples")
    axes.set_ylabel(rows[0]["metric"] if rows else "score")
    axes.set_title("Learning curve")
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
