"""The ``deploy`` stage of `ftp run` ([deploy] enabled = true): export the fine-tuned model
merged (and as GGUF), serve it on an engine, evaluate the endpoint on the test split with
the settings of the in-process evaluation, and gate parity with that evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftp.api import Project
from ftp.progress import info


def stage_deploy(project: Project, outcome: Any) -> None:
    from ftp.plugins.loop import pipeline_state as state

    config = project.config["deploy"]
    if not config["enabled"]:
        outcome.stages["deploy"] = "off"
        return
    ref = str(outcome.train_run) if outcome.train_run else project.config["model"]["path"]
    key = state.stage_key("deploy", config, project.config["eval"], ref, outcome.eval_run)
    earlier = state.done(project.store, "deploy", key)
    if earlier:
        outcome.decisions.extend(_decisions(project, earlier["run_id"]))
        outcome.stages["deploy"] = "skipped"
        return
    with state.recording(project.store, "deploy", key) as record:
        served, decision = deploy(project, ref, outcome.eval_run, config)
        record["run_id"], record["detail"] = served, {"parity": decision["value"]}
    outcome.decisions.append(decision)
    outcome.stages["deploy"] = "ran"


def deploy(project: Project, ref: str, in_process: int, config: dict[str, Any]
           ) -> tuple[int, dict[str, Any]]:
    """The served eval run's id and its parity decision against ``in_process``."""
    from ftp.plugins.evaluation.cli_eval import configured
    from ftp.plugins.evaluation.gates import GateFile
    from ftp.plugins.serving import engine as engines
    from ftp.plugins.serving.endpoint_eval import evaluate_endpoint
    from ftp.plugins.serving.parity import decide_parity, parity_gate
    from ftp.plugins.serving.serve import served_folder

    if config["gguf"]:
        _gguf(project, ref, project.root / config["gguf"], config["quant"])
    folder = served_folder(project, ref)
    info(f"deploy: serving {folder} on {config['engine']}")
    engine = engines.start(config["engine"], folder, "127.0.0.1", engines.free_port(),
                           project.root / ".ftp" / "serve" / "deploy-engine.log")
    try:
        suite, settings = configured(project.config["eval"])
        parent = int(ref) if ref.isdigit() else None
        served = evaluate_endpoint(project, engine.base_url, ["testset"], settings,
                                   model_name=engine.model_name, name="served",
                                   parent_id=parent).run.id
    finally:
        engines.stop(engine)
    path = project.root / "ftp.toml"
    gate = parity_gate({"min_agreement": config["min_agreement"]}, path, None, 0.05)
    decision = decide_parity(project.store, GateFile(path, [gate]), gate, served, in_process)
    columns = ("gate", "task", "metric", "value", "baseline_value", "difference", "p_value",
               "ci_low", "ci_high", "reason", "baseline_run_id")
    project.store.add_gate_decisions(served, [{**{c: decision.get(c) for c in columns},
                                               "passed": int(decision["passed"])}])
    info(f"deploy: parity {decision['reason']}")
    return served, decision


def _gguf(project: Project, ref: str, target: Path, quant: str) -> None:
    from ftp.plugins.training.export import export_gguf

    if target.exists():
        target.unlink()  # the stage re-exports only when its inputs changed
    written = export_gguf(project, ref, target, quant)
    info(f"deploy: GGUF ({written.quant}, {written.bytes / 1e6:.1f} MB) at {written.path}")


def _decisions(project: Project, served: int) -> list[dict[str, Any]]:
    return [{**row, "passed": bool(row["passed"])} for row in
            project.store.db["gate_decisions"].rows_where("run_id = ?", [served])]
