"""The body of `ftp eval`: settings from flags and ftp.toml, baseline, gates, reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ftp.api import EvalSettings, RunRecord
from ftp.errors import CheckFailed, NotFound, UserError
from ftp.lifecycle import notify
from ftp.output import echo_json, echo_table
from ftp.plugins.evaluation import decide, reports
from ftp.plugins.evaluation.benchmarks import TaskFolderEvaluator
from ftp.plugins.evaluation.commands import GATE_COLUMNS
from ftp.plugins.evaluation.gates import check_suite, load_gates
from ftp.plugins.evaluation.reports import headline
from ftp.plugins.evaluation.runner import evaluate, resolve_evaluators
from ftp.plugins.evaluation.settings import check_flags, check_settings
from ftp.plugins.serving.endpoint_eval import evaluate_endpoint, is_endpoint
from ftp.progress import info
from ftp.project import Project


def run_eval(*, model: str | None, suite: list[str] | None, task_dirs: list[Path],
             limit: int | None, shots: int | None, batch_size: int | None, seed: int,
             device: str | None, baseline: str | None, gates_path: Path | None,
             name: str | None, junit: Path | None, markdown: Path | None,
             as_json: bool, sampling: tuple[int | None, float | None] = (None, None),
             endpoint: tuple[str | None, str | None] = (None, None)) -> None:
    project = Project.find()
    config = project.config.get("eval", {})
    gate_file = load_gates(gates_path) if gates_path else None  # bad file: exit 2 up front
    if gate_file is None and baseline:
        raise UserError("--baseline needs --gates FILE (what to check against the baseline)")
    settings = _settings(config, limit, shots, batch_size, seed, device, sampling)
    model = model or project.config.get("model", {}).get("path")
    if suite is None:  # only the given task folders, else the configured suite
        suite = [] if task_dirs else list(config.get("suite", ["testset"]))
    extra = _task_folders(task_dirs)
    if gate_file is not None:  # a gate naming a task or metric the suite lacks: exit 2 now
        check_gates_against_suite(gate_file, suite, extra)
    if is_endpoint(model):  # a served model: over HTTP (plugins/serving/endpoint_eval.py)
        outcome = evaluate_endpoint(project, model, suite, settings, model_name=endpoint[0],
                                    api_key=endpoint[1], name=name)
    else:
        outcome = _evaluate(project, model, suite, settings, extra, name)
    base_id = _baseline(project, baseline, suite, settings, extra) if baseline else None
    decisions = []
    if gate_file is not None:
        decisions = decide.decide(project.store, gate_file, outcome.run.id, base_id)
        _record(project, outcome.run, decisions)
    reports.write(junit, reports.junit(outcome.results, decisions, outcome.run.id))
    reports.write(markdown, reports.markdown(outcome.results, decisions, outcome.run.id, model))
    _print(outcome, decisions, as_json)
    failed = [d for d in decisions if not d["passed"]]
    if failed:
        raise CheckFailed(f"{len(failed)} of {len(decisions)} gate(s) failed: "
                          + "; ".join(f"{d['gate']}: {d['reason']}" for d in failed))


def configured(config: dict[str, Any]) -> tuple[list[str], Any]:
    """The suite and settings an [eval] table names: what `ftp eval MODEL` runs without flags
    (e.g. for the sweep's points). Bad values raise UserError."""
    suite = config.get("suite", ["testset"])
    return ([suite] if isinstance(suite, str) else list(suite),
            _settings(config, None, None, None, 1234, None))


def _settings(config: dict[str, Any], limit: int | None, shots: int | None,
              batch_size: int | None, seed: int, device: str | None,
              sampling: tuple[int | None, float | None] = (None, None)) -> Any:
    """[eval] merged with the flags, through the one constructor (EvalSettings.from_config)."""
    samples, temperature = sampling
    check_flags(limit=limit, shots=shots, batch_size=batch_size, samples=samples,
                temperature=temperature)
    settings = EvalSettings.from_config(config, limit=limit, shots=shots,
                                        batch_size=batch_size, seed=seed,
                                        device=device, samples=samples,
                                        temperature=temperature)
    if settings.samples < 1 or settings.temperature <= 0:
        raise UserError("--samples must be 1 or more and --temperature above 0")
    if settings.limit is not None and settings.limit < 0:
        raise UserError("--limit must be 0 (all) or a positive number")
    check_settings(settings)
    return settings


def check_gates_against_suite(gate_file: Any, suite: list[str], extra: list[Any]) -> None:
    """Each results gate names a task and metric the suite's evaluators declare (exit 2)."""
    produced: dict[str, Any] = {}
    complete = True
    for _, evaluator in resolve_evaluators(suite, extra):
        declared = getattr(evaluator, "produces", None)
        if isinstance(declared, dict):
            produced.update(declared)
        else:
            complete = False  # a task folder or a plugin's evaluator: tasks not known ahead
    check_suite(gate_file, produced, complete)


def _task_folders(task_dirs: list[Path]) -> list[Any]:
    return [TaskFolderEvaluator(path) for path in task_dirs]


def _evaluate(project: Project, model, suite, settings, extra, name):
    if not model:
        raise UserError("no model given and no [model] path in ftp.toml")
    return evaluate(project, model, suite, settings, extra=extra, name=name)


def _baseline(project: Project, ref: str, suite, settings, extra) -> int:
    """An eval run as it is; a model or train run is evaluated with the same settings."""
    try:
        run = project.store.get_run(ref)
    except NotFound:
        run = None
    if run is not None and run.kind == "eval":
        if run.status != "finished":
            raise UserError(f"baseline eval run {run.id} is {run.status}, not finished")
        return run.id
    info(f"Evaluating the baseline {ref} with the same settings")
    return _evaluate(project, ref, suite, settings, extra, None).run.id


def _record(project: Project, run: RunRecord, decisions: list[dict[str, Any]]) -> None:
    columns = ("gate", "task", "metric", "value", "baseline_value", "difference", "p_value",
               "ci_low", "ci_high", "reason", "baseline_run_id")
    project.store.add_gate_decisions(run.id, [
        {**{c: d.get(c) for c in columns}, "passed": int(d["passed"])} for d in decisions])
    for decision in decisions:  # a raising hook is reported; the decision stands
        notify("ftp_gate_decided", project=project, run=run, decision=decision)


def _print(outcome, decisions: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        echo_json({"run": outcome.run.id, "results": outcome.results, "cached": outcome.cached,
                   "gates": decisions, "passed": all(d["passed"] for d in decisions)})
        return
    echo_table(headline(outcome.results), ("task", "metric", "value", "stderr", "n"), empty="No results.")
    if decisions:
        click.echo("")
        echo_table([{**d, "passed": "pass" if d["passed"] else "FAIL"} for d in decisions],
                   GATE_COLUMNS)
    info(f"eval run {outcome.run.id}")
