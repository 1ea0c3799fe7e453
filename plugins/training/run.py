"""`ftp train` as a Python API: settings, data, the run record, ranks, resume, dry run.

Everything that can be wrong with the input (model, method, data) is checked before the run
is recorded, so a bad input leaves nothing in the store. Under torchrun/accelerate every rank
trains; only rank 0 records the run and writes metrics, and the others learn its id.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

from transformers.utils import logging as hf_logging

from ftp import registry
from ftp.api import Project, RunRecord, Trainer
from ftp.errors import UserError
from ftp.plugins.models import resolve_model
from ftp.plugins.models.loading import check_folder, load_tokenizer
from ftp.plugins.training import data as train_data
from ftp.plugins.training import job as job_module
from ftp.plugins.training.callbacks import COMPLETE, last_complete_checkpoint
from ftp.plugins.training.distributed import broadcast, rank, setup_distributed, world_size
from ftp.plugins.training.job import TrainJob


def _quiet_libraries() -> None:
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    except ImportError:
        pass


def prepare(project: Project, options: dict[str, Any]) -> tuple[dict[str, Any], Any, list, list]:
    """Settings, trainer and data for ``options`` (the flags); raises before any write."""
    settings = job_module.settings(project.config["train"], options.get("settings"))
    if settings["distributed"] == "fsdp" and world_size() < 2:
        raise UserError("FSDP shards the model across processes, and this is one process",
                        hint="launch it with `torchrun --nproc_per_node N -m ftp train ...` "
                             '(N >= 2), or set train.distributed = "ddp"')
    trainer = registry.get("trainers", settings["method"])
    if callable(getattr(trainer, "check", None)):
        trainer.check(settings)  # a trainer's own pre-flight check (e.g. qlora needs CUDA)
    model_ref = options.get("model") or project.config["model"]["path"]
    folder = resolve_model(model_ref)
    check_folder(folder)  # a truncated or damaged model: exit 2 before the run is recorded
    fraction = 1.0 if options.get("fraction") is None else options["fraction"]
    if not 0 < fraction <= 1:
        raise UserError(f"--fraction must be in (0, 1], got {fraction}")
    dataset = train_data.dataset_row(project, options.get("dataset"))["id"]
    options["dataset"] = dataset  # pinned: a resumed run reads the same version
    train = train_data.records(project, dataset, "train", fraction)
    if not train:
        raise UserError(f"dataset {dataset} has no training examples (fraction {fraction})",
                        hint="import data with `ftp data import FILE`")
    valid = train_data.records(project, dataset, "validation", 1.0)
    if settings["method"] == "dpo":
        return settings, trainer, train_data.preference_pairs(train), \
            train_data.preference_pairs(valid) if valid else []
    tokenizer = load_tokenizer(folder)
    return settings, trainer, train_data.encoded(project, train, tokenizer, "train"), \
        train_data.encoded(project, valid, tokenizer, "validation")


def train(project: Project, options: dict[str, Any], name: str | None = None,
          parent_id: int | None = None):
    """Record and run a training run; returns the finished RunRecord (rank 0)."""
    _quiet_libraries()
    settings, trainer, train_set, valid_set = prepare(project, options)
    model_ref = options.get("model") or project.config["model"]["path"]
    config = {**settings, "dataset": options.get("dataset"),
              "fraction": options.get("fraction") or 1.0, "model": model_ref}
    setup_distributed()
    if rank() != 0:
        run_id = broadcast(None)
        run = project.store.get_run(run_id)
        return _execute(trainer, _job(project, run, config, train_set, valid_set, main=False))
    run = None
    try:
        with project.run("train", config=config, model=model_ref, name=name,
                         parent_id=parent_id, dataset_id=options["dataset"]) as run:
            broadcast(run.id)
            summary = _execute(trainer, _job(project, run, config, train_set, valid_set))
            run.summary.update(_json_safe(summary))
    except UserError:
        if run is not None and world_size() < 2:  # bad input found late: leave no trace
            project.store.forget_run(run)
        raise
    return project.store.get_run(run.id)


def _job(project: Project, run: RunRecord, config: dict[str, Any], train_set: list, valid_set: list,
         main: bool = True, resume_from: Path | None = None) -> TrainJob:
    return TrainJob(model_ref=config["model"], settings=config,
                    output_dir=Path(run.artifacts_path) / "checkpoints",
                    train_data=train_set, eval_data=valid_set,
                    project=project if main else None, run=run if main else None,
                    resume_from=resume_from)


def _execute(trainer: Trainer, job: TrainJob) -> dict[str, Any]:
    """Train; then store ``job.settings`` as the run's config, as the trainer left it (a
    trainer may set a default of its own), so the run says what it actually ran."""
    summary = trainer(job)
    if job.project is not None and job.run is not None:
        job.project.store.update_run(job.run.id, config=_json_safe(job.settings))
    return summary


def _json_safe(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items()
            if isinstance(v, (int, float, str, bool)) or v is None}


def resume(project: Project, ref: str):
    """Continue a failed or killed train run from its last complete checkpoint."""
    _quiet_libraries()
    run = project.store.get_run(ref)
    if run.kind != "train":
        raise UserError(f"run {run.id} is a {run.kind} run; only train runs resume")
    if run.status == "finished":
        raise UserError(f"train run {run.id} already finished; nothing to resume")
    if run.status == "running":
        raise UserError(f"train run {run.id} is still running (pid {run.pid})")
    config = dict(run.config)
    if config.get("distributed") == "fsdp":
        raise UserError(f"train run {run.id} trained with FSDP, whose checkpoints hold the "
                        "model without the optimizer state (transformers cannot save it for "
                        "a model sharded at load time), so it cannot resume exactly",
                        hint="train it again, or with train.distributed = \"ddp\" to resume")
    options = {"settings": config, "model": config["model"], "dataset": config.get("dataset"),
               "fraction": config.get("fraction")}
    _, trainer, train_set, valid_set = prepare(project, options)
    checkpoints = Path(run.artifacts_path) / "checkpoints"
    setup_distributed()
    if rank() == 0:
        for stale in checkpoints.glob("checkpoint-*"):
            if not (stale / COMPLETE).is_file():
                shutil.rmtree(stale, ignore_errors=True)
    checkpoint = last_complete_checkpoint(checkpoints) if checkpoints.is_dir() else None
    job = _job(project, run, config, train_set, valid_set, main=rank() == 0,
               resume_from=checkpoint)
    if rank() != 0:
        return _execute(trainer, job)
    with project.resume(run) as resumed:  # this pid, the lifecycle hooks, failed again if so
        job.run = resumed
        resumed.summary.update(_json_safe(_execute(trainer, job)))
    return project.store.get_run(run.id)


def dry_run(project: Project, options: dict[str, Any], steps: int = 3) -> dict[str, Any]:
    """Train a few steps in a temporary folder (nothing stored); estimate an epoch."""
    _quiet_libraries()
    settings, trainer, train_set, valid_set = prepare(project, options)
    model_ref = options.get("model") or project.config["model"]["path"]
    with tempfile.TemporaryDirectory(prefix="ftp-dry-run-") as tmp:
        job = TrainJob(model_ref=model_ref, settings=settings,
                       output_dir=Path(tmp) / "checkpoints", train_data=train_set,
                       dry_run_steps=steps)
        summary = trainer(job)
    per_step = summary["train_seconds"] / max(summary["steps"], 1)
    batch = settings["batch_size"] * settings["gradient_accumulation"] * world_size()
    steps_per_epoch = math.ceil(len(train_set) / batch)
    return {"method": settings["method"], "model": model_ref, "examples": len(train_set),
            "steps_run": summary["steps"], "seconds_per_step": round(per_step, 3),
            "steps_per_epoch": steps_per_epoch,
            "expected_seconds_per_epoch": round(per_step * steps_per_epoch, 1),
            "tokens_per_s": summary["tokens_per_s"], "peak_memory_mb": summary["peak_memory_mb"],
            "loss": summary.get("final_loss")}
