"""`ftp run`: the stages of ftp.toml in order — data, train, eval, gate, deploy, report.

Each stage has a key: a hash of its ftp.toml section(s) and of its inputs (the source file's
bytes, the dataset's content hash, the model reference, the train run). A stage whose key
matches a finished earlier stage is skipped and its result reused; a train stage that was
interrupted is resumed from its last complete checkpoint. The stages call the other
plugins' Python APIs (data import, training, evaluation, gates), as the CLI commands do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftp import lifecycle
from ftp.errors import CheckFailed, UserError
from ftp.plugins.data.api import import_dataset, resolve_dataset
from ftp.plugins.evaluation.cli_eval import configured
from ftp.plugins.evaluation.decide import decide
from ftp.plugins.evaluation.gates import load_gates
from ftp.plugins.evaluation.runner import evaluate
from ftp.plugins.loop import pipeline_state as state
from ftp.plugins.report.commands import write_report
from ftp.plugins.serving.deploy import stage_deploy as deploy
from ftp.plugins.training import run as training
from ftp.progress import info

if TYPE_CHECKING:
    from ftp.project import Project

STAGES = ("data", "train", "eval", "gate", "deploy", "report")


@dataclass
class Outcome:
    """What `ftp run` did: per stage, 'ran' / 'skipped' / 'resumed', and the results."""

    stages: dict[str, str] = field(default_factory=dict)
    dataset_id: int | None = None
    train_run: int | None = None
    base_eval: int | None = None
    eval_run: int | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    report: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _sources(project: Project) -> Path:
    sources = project.config["data"]["sources"]
    sources = [sources] if isinstance(sources, str) else list(sources)
    if len(sources) != 1:
        raise UserError(f"ftp run trains on one dataset; [data] sources lists {len(sources)}",
                        hint="list one file (or a folder of files) in [data] sources")
    path = (project.root / sources[0]).resolve()
    if not path.exists():
        raise UserError(f"[data] source {path} does not exist")
    return path


def stage_data(project: Project, outcome: Outcome) -> None:
    source = _sources(project)
    key = state.stage_key("data", project.config["data"], project.config["privacy"],
                          state.file_hash(source))
    earlier = state.done(project.store, "data", key)
    if earlier:
        outcome.dataset_id, outcome.stages["data"] = earlier["dataset_id"], "skipped"
        return
    settings = project.config["data"]
    with state.recording(project.store, "data", key) as record:
        dataset = import_dataset(project, source, fmt=settings["format"],
                                 mapping=settings["map"], on_error=settings["on_error"])
        record["dataset_id"], record["detail"] = dataset["id"], {
            "counts": dataset["counts"], "scrubbed": dataset["scrub_report"].get("entities")}
    entities = dataset["scrub_report"].get("entities") or {}
    info(f"data: dataset {dataset['id']} ({dataset['counts']['total']} examples); scrubbed "
         + (", ".join(f"{k} {v}" for k, v in entities.items()) or "nothing"))
    outcome.dataset_id, outcome.stages["data"] = dataset["id"], "ran"


def _dataset_hash(project: Project, dataset_id: int | None) -> str:
    return resolve_dataset(project, dataset_id)["content_hash"]


def stage_train(project: Project, outcome: Outcome) -> None:
    model = project.config["model"]["path"]
    key = state.stage_key("train", project.config["train"], project.config["format"], model,
                          _dataset_hash(project, outcome.dataset_id))
    earlier = state.latest(project.store, "train", key)
    if earlier and earlier["status"] == "done" and earlier["run_status"] == "finished":
        outcome.train_run, outcome.stages["train"] = earlier["run_id"], "skipped"
        return
    if earlier and earlier["run_id"] and earlier["run_status"] == "failed":
        info(f"train: resuming interrupted train run {earlier['run_id']}")
        with state.recording(project.store, "train", key) as record:
            record["run_id"] = training.resume(project, str(earlier["run_id"])).id
        outcome.train_run, outcome.stages["train"] = record["run_id"], "resumed"
        return
    with state.recording(project.store, "train", key) as record:
        run = training.train(project, {"settings": {}, "model": model,
                                       "dataset": outcome.dataset_id})
        record["run_id"] = run.id
    outcome.train_run, outcome.stages["train"] = run.id, "ran"
    info(f"train: run {run.id} finished in {run.duration_s:.0f}s")


def _evaluate(project: Project, stage: str, model_ref: str, identity: str,
              outcome: Outcome) -> int:
    config = project.config["eval"]
    suite, settings = configured(config)  # the same settings `ftp eval` and `ftp sweep` use
    key = state.stage_key(stage, config, project.config["format"], identity,
                          _dataset_hash(project, outcome.dataset_id))
    earlier = state.done(project.store, stage, key)
    if earlier:
        outcome.stages[stage] = "skipped"
        return earlier["run_id"]
    with state.recording(project.store, stage, key) as record:
        result = evaluate(project, model_ref, suite, settings,
                          name="base" if stage == "eval-base" else "fine-tuned")
        record["run_id"] = result.run.id
        record["detail"] = {f"{r['task']}/{r['metric']}": r["value"] for r in result.results}
    outcome.stages[stage] = "ran"
    return result.run.id


def stage_eval(project: Project, outcome: Outcome) -> None:
    base = project.config["model"]["path"]
    if project.config["run"]["baseline"]:
        outcome.base_eval = _evaluate(project, "eval-base", base, f"model:{base}", outcome)
    if outcome.train_run is None:
        outcome.eval_run = outcome.base_eval or _evaluate(project, "eval", base,
                                                          f"model:{base}", outcome)
        return
    outcome.eval_run = _evaluate(project, "eval", str(outcome.train_run),
                                 f"train-run:{outcome.train_run}", outcome)


def stage_gate(project: Project, outcome: Outcome) -> None:
    path = project.root / project.config["gates"]["file"]
    if not path.is_file():
        outcome.stages["gate"] = "no gates file"
        return
    baseline = outcome.base_eval if outcome.base_eval != outcome.eval_run else None
    decisions = decide(project.store, load_gates(path), outcome.eval_run, baseline)
    project.store.db.execute("delete from gate_decisions where run_id = ?", [outcome.eval_run])
    columns = ("gate", "task", "metric", "value", "baseline_value", "difference", "p_value",
               "ci_low", "ci_high", "reason", "baseline_run_id")
    project.store.add_gate_decisions(outcome.eval_run, [
        {**{c: d.get(c) for c in columns}, "passed": int(d["passed"])} for d in decisions])
    run = project.store.get_run(outcome.eval_run)
    for decision in decisions:  # a raising hook is reported; the decision stands
        lifecycle.notify("ftp_gate_decided", project=project, run=run, decision=decision)
    outcome.decisions, outcome.stages["gate"] = decisions, "ran"


def stage_report(project: Project, outcome: Outcome) -> None:
    subject = outcome.train_run or outcome.eval_run
    if subject is None:
        outcome.stages["report"] = "nothing to report"
        return
    compare = [str(outcome.base_eval)] if outcome.base_eval else []
    path = project.root / project.config["run"]["report"]
    write_report(project, [str(subject), *compare], html_path=path,
                 markdown_path=path.with_suffix(".md"))
    outcome.report, outcome.stages["report"] = path, "ran"


def stage_deploy(project: Project, outcome: Outcome) -> None:
    """Export, serve, evaluate the endpoint, gate parity ([deploy]; plugins/serving)."""
    deploy(project, outcome)


RUNNERS = {"data": stage_data, "train": stage_train, "eval": stage_eval, "gate": stage_gate,
           "deploy": stage_deploy, "report": stage_report}


def run_pipeline(project: Project, stages: list[str] | None = None) -> Outcome:
    """Run the stages (default: [run] stages in ftp.toml); see ``failed_gates``."""
    stages = stages or list(project.config["run"]["stages"])
    unknown = [s for s in stages if s not in RUNNERS]
    if unknown:
        raise UserError(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(STAGES)}")
    if "gate" in stages:
        _check_gates_first(project)
    outcome = Outcome()
    for stage in STAGES:
        if stage in stages:
            start = time.monotonic()
            info(f"== {stage}")
            RUNNERS[stage](project, outcome)
            outcome.timings[stage] = round(time.monotonic() - start, 1)
    return outcome


def _check_gates_first(project: Project) -> None:
    """A bad gates file (syntax, values, a task or metric the suite lacks) is exit 2 before
    the data, train and eval stages run, not after them."""
    from ftp.plugins.evaluation.cli_eval import check_gates_against_suite, configured
    path = project.root / project.config["gates"]["file"]
    if path.is_file():
        suite, _ = configured(project.config["eval"])
        check_gates_against_suite(load_gates(path), suite, [])


def check_gates(outcome: Outcome) -> None:
    """CheckFailed (exit 1) naming each failed gate."""
    failed = [d for d in outcome.decisions if not d["passed"]]
    if failed:
        raise CheckFailed(f"{len(failed)} of {len(outcome.decisions)} gate(s) failed: "
                          + "; ".join(f"{d['gate']}: {d['reason']}" for d in failed))
