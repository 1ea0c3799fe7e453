"""Export a train run's model: the PEFT adapter as it is, or merged into the base weights.

A merged export is a plain safetensors model folder with the tokenizer, which transformers
and vLLM load without PEFT; a GGUF export (llama.cpp, Ollama) is the merged model written
by ``ftp.plugins.serving.gguf_writer``.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import torch
from transformers import AutoConfig

from ftp.api import Project, RunRecord
from ftp.errors import NotFound, UserError
from ftp.plugins.models import load_model, resolve_model
from ftp.plugins.models.loading import final_model_path, find_train_run
from ftp.plugins.serving.gguf_writer import QUANTS, check_supported, write_gguf


def _run(project: Project, ref: str):
    run = find_train_run(project, ref)
    if run is None:
        raise UserError(f"{ref!r} is not a train run of this project",
                        hint="`ftp runs --kind train` lists them")
    return run


def _source(project: Project, ref: str) -> str:
    """A train run's id, or ``ref`` itself when it names a model (folder, installed name)."""
    run = find_train_run(project, ref)
    if run is not None:
        return str(run.id)
    try:
        resolve_model(ref)
    except NotFound:
        raise UserError(f"{ref!r} is not a train run of this project, nor a model",
                        hint="`ftp runs --kind train` lists the runs") from None
    return ref


def _empty_target(target: Path) -> Path:
    if target.exists() and any(target.iterdir()):
        raise UserError(f"{target} exists and is not empty; not overwriting it")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def export_adapter(project: Project, ref: str, target: Path) -> Path:
    final = final_model_path(_run(project, ref))
    if not (final / "adapter_config.json").is_file():
        raise UserError(f"run {ref} trained the model's own weights; it has no adapter",
                        hint="export it with --merged DIR")
    _empty_target(target)
    shutil.copytree(final, target, dirs_exist_ok=True)
    return target


def export_merged(project: Project, ref: str, target: Path) -> Path:
    source = _source(project, ref)
    _empty_target(target)
    model, tokenizer = merged_model(project, source)
    model.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    return target


def merged_model(project: Project, ref: str):
    """``(model, tokenizer)`` of a train run (adapter merged into the base) or a model, in
    float32 so an export rounds once, from the training precision straight to its own."""
    model, tokenizer = load_model(ref, project, dtype=torch.float32, device="cpu")
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.config.use_cache = True
    model.eval()
    return model, tokenizer


def export_gguf(project: Project, ref: str, target: Path, quant: str = "f16"):
    """Write train run (or model) ``ref`` merged, as one GGUF file at ``target``."""
    if quant not in QUANTS:
        raise UserError(f"--quant must be one of {', '.join(QUANTS)}, not {quant!r}")
    if target.suffix != ".gguf" or target.is_dir():
        raise UserError(f"--gguf {target}: give a file name ending in .gguf")
    if target.exists():
        raise UserError(f"{target} exists; not overwriting it")
    source = _source(project, ref)
    run = find_train_run(project, ref)
    check_supported(_config(project, run, ref))  # before loading any weights
    model, tokenizer = merged_model(project, source)
    name = run.name if run is not None and run.name else target.stem
    partial = target.with_name(f".{target.name}.partial")
    try:  # written aside and renamed, so an interrupted export leaves no half file
        written = write_gguf(model, tokenizer, partial, quant, name=name)
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    return dataclasses.replace(written, path=target)


def _config(project: Project, run: RunRecord, ref: str):
    folder = resolve_model(run.model if run is not None else ref)
    if run is not None and (final_model_path(run) / "config.json").is_file():
        folder = final_model_path(run)
    return AutoConfig.from_pretrained(str(folder))
