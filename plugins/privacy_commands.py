"""`ftp scrub` and `ftp audit leakage`: the privacy layer's commands.

Only click and ftp's light modules are imported here; Presidio, spaCy and torch load inside
the commands.
"""

from __future__ import annotations

from pathlib import Path

import click

from ftp import hookimpl
from ftp.progress import info


@hookimpl
def register_commands(cli: click.Group) -> None:
    from ftp.cli import subgroup

    cli.add_command(scrub)
    subgroup(cli, "audit", "Audits of a trained model (leakage, ...).").add_command(leakage)


def _privacy_config(tier: str | None) -> dict:
    """The project's [privacy] table, or the defaults outside a project."""
    from ftp import config
    from ftp.errors import ProjectNotFound
    from ftp.project import Project

    try:
        settings = dict(Project.find().config["privacy"])
    except ProjectNotFound:
        settings = dict(config.defaults()["privacy"])
    if tier:
        settings["tier"] = tier
    return settings


def _default_output(path: Path) -> Path:
    return path.with_name(f"{path.stem}.scrubbed{path.suffix}")


@click.command()
@click.argument("input_path", metavar="INPUT", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where the scrubbed file goes (default: INPUT.scrubbed.EXT).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report (counts per entity and field) as JSON here.")
@click.option("--tier", type=click.Choice(["patterns", "ner"]),
              help="Override privacy.tier: patterns (no model) or ner (spaCy).")
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv", "tsv", "text"]),
              default="auto", show_default=True, help="Input format (auto: by extension).")
@click.option("--field", "fields", multiple=True, help="Scrub only these fields (repeatable).")
@click.option("--evaluate", "evaluate_path", metavar="FILE",
              help="Measure precision/recall/F2 on a labelled file (presidio-research JSON), "
                   "or on the built-in generated corpus with `builtin`.")
def scrub(input_path: Path | None, output: Path | None, report_path: Path | None,
          tier: str | None, fmt: str, fields: tuple[str, ...],
          evaluate_path: str | None) -> None:
    """Scrub PII from a JSONL, CSV/TSV or text file, streaming, or evaluate the scrubber."""
    from ftp.errors import UserError
    from ftp.privacy.commands import run_evaluation, run_scrub

    settings = _privacy_config(tier)
    if evaluate_path:
        run_evaluation(evaluate_path, settings, report_path)
        return
    if input_path is None:
        raise UserError("give an INPUT file to scrub, or --evaluate FILE")
    run_scrub(input_path, output or _default_output(input_path), settings, fmt,
              list(fields) or None, report_path)


@click.command()
@click.argument("run")
@click.option("--model", "model_path", type=click.Path(path_type=Path),
              help="The trained model folder (default: found in the run's artifacts).")
@click.option("--dataset", "dataset_id", type=int,
              help="Audit this dataset's canaries (default: the run's dataset).")
@click.option("--candidates", type=int, default=1000, show_default=True,
              help="Random secrets each canary is ranked against.")
@click.option("--placeholder-sites", type=int, default=50, show_default=True,
              help="Placeholder places in the training split to check (0: skip).")
@click.option("--surrogates", type=int, default=10, show_default=True,
              help="Realistic values each placeholder is compared with.")
@click.option("--raw", "raw_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The raw file you imported (JSONL/CSV/text): compare the original values "
                   "too (used in memory only, never stored).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def leakage(run: str, model_path: Path | None, dataset_id: int | None, candidates: int,
            placeholder_sites: int, surrogates: int, raw_path: Path | None,
            as_json: bool) -> None:
    """Measure canary exposure and extraction, and whether the model learnt the scrubber's
    placeholders (and not the values they replaced), for a training run."""
    from ftp.output import echo_json
    from ftp.privacy.leakage import audit_run
    from ftp.project import Project

    result = audit_run(Project.find(), run, model_path=model_path, dataset_id=dataset_id,
                       candidates=candidates, placeholder_sites=placeholder_sites,
                       surrogates=surrogates, raw_path=raw_path)
    if as_json:
        echo_json(result)
        return
    if result.get("canaries"):
        _echo_canaries(result)
    if "placeholders" in result:
        _echo_placeholders(result["placeholders"])
    info(f"stored as run {result['audit_run_id']}")


def _echo_canaries(result: dict) -> None:
    from ftp.output import echo_table

    echo_table(result["canaries"], ("canary_id", "exposure_bits", "rank", "extracted"))
    info(f"max exposure {result['max_exposure']:.2f} bits of {result['max_possible']:.2f}; "
         f"{result['extracted']} of {len(result['canaries'])} extracted")


PLACEHOLDER_COLUMNS = ("entity", "sites", "placeholder_rate", "learnt_margin",
                       "with_original", "original_over_placeholder_rate",
                       "original_exposure_bits")


def _echo_placeholders(audit: dict) -> None:
    from ftp.output import echo_table

    rows = [{"entity": entity, **figures} for entity, figures in audit["summary"].items()]
    echo_table(rows, PLACEHOLDER_COLUMNS)
    every = audit["summary"]["all"]
    info(f"placeholders: preferred to {audit['candidates']} realistic values at "
         f"{every.get('placeholder_rate', 0):.0%} of {every['sites']} places; margin gained in "
         f"training {every.get('learnt_margin', float('nan')):+.2f} nats"
         + ("" if audit["base_compared"] else " (no base model to compare)"))
