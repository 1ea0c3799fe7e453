"""The loop: `ftp run` (the stages of ftp.toml), `ftp quickstart [DIR]` and `ftp sweep`."""

from __future__ import annotations

from pathlib import Path

import click

from ftp import hookimpl
from ftp.errors import UserError
from ftp.output import echo_json
from ftp.progress import info


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(run)
    cli.add_command(quickstart)
    cli.add_command(sweep)


def _print(outcome) -> None:
    for stage, what in outcome.stages.items():
        click.echo(f"{stage}: {what}")
    where = {"dataset": outcome.dataset_id, "train run": outcome.train_run,
             "base eval run": outcome.base_eval, "eval run": outcome.eval_run,
             "report": outcome.report}
    for label, value in where.items():
        if value is not None:
            click.echo(f"{label}: {value}")
    for decision in outcome.decisions:
        verdict = "pass" if decision["passed"] else "FAIL"
        click.echo(f"gate {decision['gate']}: {verdict} ({decision['reason']})")


@click.command()
@click.option("--stage", "stages", multiple=True,
              type=click.Choice(["data", "train", "eval", "gate", "report"]),
              help="Run only these stages (repeatable; default: [run] stages in ftp.toml).")
def run(stages: tuple[str, ...]) -> None:
    """Run the project's stages: data -> train -> eval -> gate -> report.

    A stage whose inputs (its ftp.toml section, the data file, the dataset, the model) did
    not change since it last finished is skipped; an interrupted training run is resumed.
    Exit status 1 when a gate fails.
    """
    from ftp.plugins.loop.pipeline import check_gates, run_pipeline
    from ftp.project import Project

    outcome = run_pipeline(Project.find(), list(stages) or None)
    _print(outcome)
    check_gates(outcome)


@click.command()
@click.argument("directory", default="ftp-quickstart",
                type=click.Path(file_okay=True, path_type=Path))
@click.option("--model", help="A local model instead of pulling the default "
                              "(SmolLM2-135M-Instruct).")
@click.option("--steps", type=int, help="Train this many steps instead of one epoch.")
@click.option("--quick", is_flag=True,
              help="A shortened run for CI: 120 emails, 20 training steps, 10 documents per "
                   "eval task.")
@click.option("--bench-data", type=click.Path(exists=True, path_type=Path),
              help="The ARC release folder, to install the ARC-Easy subset first.")
def quickstart(directory: Path, model: str | None, steps: int | None, quick: bool,
               bench_data: Path | None) -> None:
    """Create an example project in DIRECTORY and run the whole loop on it.

    Customer-support emails (with names, emails and phone numbers, scrubbed at import) are
    turned into JSON tickets: the base model is evaluated, fine-tuned with LoRA, evaluated
    again on the test split and an ARC-Easy subset, gated, and reported in report.html.
    """
    from ftp.plugins.loop import quickstart as qs
    from ftp.plugins.loop.pipeline import run_pipeline

    options = qs.QuickstartOptions(model=model, steps=steps or (20 if quick else None),
                                   limit=10 if quick else None, bench_data=bench_data,
                                   examples=120 if quick else 300)
    project = qs.create(directory.resolve(), options)
    outcome = run_pipeline(project)
    click.echo("")
    for line in qs.summary(project, outcome):
        click.echo(line)
    info(f"\nNext: cd {directory} && ftp review {outcome.base_eval or ''} {outcome.eval_run} "
         f"(rate outputs), ftp chat {outcome.train_run}, ftp run (repeats, skipping what is "
         "unchanged; exit 1 when a gate fails)")


def _csv(value: str | None, cast=str) -> list:
    return [cast(item.strip()) for item in (value or "").split(",") if item.strip()]


@click.command()
@click.option("--fractions", default="0.1,0.25,0.5,1", show_default=True,
              help="Nested fractions of the training data.")
@click.option("--models", help="Comma-separated models (default: ftp.toml's).")
@click.option("--methods", help="Comma-separated methods (default: ftp.toml's).")
@click.option("--data", "dataset", help="Dataset name (default: the latest imported).")
@click.option("--max-steps", type=int, help="Steps per point (default: ftp.toml's).")
@click.option("--epochs", type=float, help="Epochs per point (default: ftp.toml's).")
@click.option("--resume", "resume_ref", metavar="RUN", help="Continue an interrupted sweep.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def sweep(fractions, models, methods, dataset, max_steps, epochs, resume_ref, as_json) -> None:
    """Train every model x method x data fraction, evaluate each on the test split and on
    ftp.toml's [eval] suite (as `ftp eval` does), draw the learning curves."""
    from ftp.plugins.loop.sweep import run_sweep
    from ftp.project import Project

    project = Project.find()
    try:
        fraction_list = _csv(fractions, float)
    except ValueError:
        raise UserError(f"--fractions must be numbers like 0.1,0.5,1, got {fractions!r}") from None
    settings = {k: v for k, v in (("max_steps", max_steps), ("epochs", epochs)) if v is not None}
    config = {"fractions": fraction_list, "dataset": dataset, "settings": settings,
              "models": _csv(models) or [project.config["model"]["path"]],
              "methods": _csv(methods) or [project.config["train"]["method"]]}
    record = run_sweep(project, config, resume_ref=resume_ref)
    if as_json:
        return echo_json(record.to_dict())
    click.echo(f"sweep {record.id} {record.status}: {record.summary.get('points')} points, "
               f"learning curve in {record.summary.get('learning_curve')}")
