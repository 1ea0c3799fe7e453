"""Export a train run's model: the PEFT adapter as it is, or merged into the base weights.

A merged export is a plain safetensors model folder with the tokenizer, which transformers
and vLLM load without PEFT.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ftp.errors import UserError
from ftp.plugins.models.loading import final_model_path, find_train_run


def _run(project, ref: str):
    run = find_train_run(project, ref)
    if run is None:
        raise UserError(f"{ref!r} is not a train run of this project",
                        hint="`ftp runs --kind train` lists them")
    return run


def _empty_target(target: Path) -> Path:
    if target.exists() and any(target.iterdir()):
        raise UserError(f"{target} exists and is not empty; not overwriting it")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def export_adapter(project, ref: str, target: Path) -> Path:
    final = final_model_path(_run(project, ref))
    if not (final / "adapter_config.json").is_file():
        raise UserError(f"run {ref} trained the model's own weights; it has no adapter",
                        hint="export it with --merged DIR")
    _empty_target(target)
    shutil.copytree(final, target, dirs_exist_ok=True)
    return target


def export_merged(project, ref: str, target: Path) -> Path:
    from ftp.plugins.models import load_model

    run = _run(project, ref)
    _empty_target(target)
    model, tokenizer = load_model(str(run.id), project)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.config.use_cache = True
    model.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    return target
