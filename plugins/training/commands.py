"""`ftp train` and `ftp export`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ftp import hookimpl
from ftp.errors import UserError
from ftp.output import echo_json, format_value


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(train)
    cli.add_command(export)


@click.command()
@click.option("--method", help="lora, freeze, full, qlora or dpo (default: ftp.toml).")
@click.option("--data", "dataset", help="Dataset name (default: the latest imported).")
@click.option("--fraction", type=float, help="Train on this fraction of the data (0-1].")
@click.option("--model", help="Model folder, .gguf file or installed name.")
@click.option("--name", help="A name for the run.")
@click.option("--epochs", type=float)
@click.option("--max-steps", type=int)
@click.option("--learning-rate", "--lr", "learning_rate", type=float)
@click.option("--batch-size", type=int)
@click.option("--gradient-accumulation", type=int)
@click.option("--seed", type=int)
@click.option("--packing/--no-packing", default=None, help="Pack examples (default on).")
@click.option("--pack-tokens", type=int,
              help="Row width cap where packing falls back to several rows.")
@click.option("--lora-r", type=int)
@click.option("--lora-alpha", type=int)
@click.option("--dora/--no-dora", default=None)
@click.option("--rslora/--no-rslora", default=None)
@click.option("--freeze-trainable-layers", type=int, help="freeze: train the last N layers.")
@click.option("--trainable-modules", help="freeze: train modules whose names contain these.")
@click.option("--save-steps", type=int, help="Checkpoint every N steps.")
@click.option("--eval-steps", type=int)
@click.option("--early-stopping-patience", type=int)
@click.option("--fsdp", "distributed", flag_value="fsdp", default=None,
              help="Under torchrun/accelerate: shard the model across the processes (FSDP2) "
                   "instead of copying it to each (DDP). lora, freeze and full.")
@click.option("--resume", "resume_ref", metavar="RUN", help="Resume a failed or killed run.")
@click.option("--dry-run", is_flag=True, help="Run a few steps; print time per epoch, memory.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def train(dataset, fraction, model, name, resume_ref, dry_run, as_json, **flags) -> None:
    """Fine-tune a model on the project's data (settings from ftp.toml plus flags)."""
    from ftp.plugins.training import run as runner
    from ftp.project import Project

    settings = {k: v for k, v in flags.items() if v is not None}
    project = Project.find()
    if resume_ref:
        given = [k for k, v in (("--data", dataset), ("--fraction", fraction), ("--model", model),
                                ("--name", name), ("--dry-run", dry_run)) if v]
        given += ["--" + k.replace("_", "-") for k in settings]
        if given:
            raise UserError(f"--resume continues a run with its own settings; it cannot be "
                            f"combined with {', '.join(given)}")
        record = runner.resume(project, resume_ref)
        return _report(record, as_json)
    options = {"settings": settings, "model": model, "dataset": dataset, "fraction": fraction}
    if dry_run:
        result = runner.dry_run(project, options)
        return echo_json(result) if as_json else _echo_pairs(result)
    _report(runner.train(project, options, name=name), as_json)


def _report(record, as_json: bool) -> None:
    if record is None or not hasattr(record, "summary"):
        return  # ranks other than 0 print nothing
    if as_json:
        return echo_json(record.to_dict())
    summary = record.summary
    click.echo(f"run {record.id} {record.status}: loss {format_value(summary.get('final_loss'))}"
               f", {format_value(summary.get('tokens_per_s'))} real tokens/s, "
               f"model in {summary.get('final_model')}")


def _echo_pairs(values: dict[str, Any]) -> None:
    for key, value in values.items():
        click.echo(f"{key}: {format_value(value)}")


@click.command()
@click.argument("run")
@click.option("--adapter", type=click.Path(file_okay=False, path_type=Path),
              help="Write the PEFT adapter (adapter_config.json + weights) here.")
@click.option("--merged", type=click.Path(file_okay=False, path_type=Path),
              help="Write a merged safetensors model (plain transformers, vLLM) here.")
@click.option("--gguf", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the merged model as one GGUF file (llama.cpp, Ollama); Llama, "
                   "Mistral and Qwen2 families.")
@click.option("--quant", type=click.Choice(["f16", "q8_0"]), default="f16", show_default=True,
              help="GGUF weight type.")
def export(run: str, adapter: Path | None, merged: Path | None, gguf: Path | None,
           quant: str) -> None:
    """Export a train run's model: its adapter, a merged model, or a GGUF file.

    --merged and --gguf also take a model (folder or installed name) instead of a run."""
    from ftp.plugins.training.export import export_adapter, export_gguf, export_merged
    from ftp.project import Project

    if not adapter and not merged and not gguf:
        raise UserError("say what to export: --adapter DIR, --merged DIR and/or --gguf FILE")
    project = Project.find()
    if adapter:
        click.echo(f"adapter: {export_adapter(project, run, adapter)}")
    if merged:
        click.echo(f"merged model: {export_merged(project, run, merged)}")
    if gguf:
        written = export_gguf(project, run, gguf, quant)
        click.echo(f"gguf ({written.architecture}, {written.quant}, {written.tensors} tensors, "
                   f"{written.bytes / 1e6:.1f} MB): {written.path}")
