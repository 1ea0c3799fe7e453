"""`ftp audit leakage RUN`: canary exposure, extraction and placeholder learning of a trained
model. Only click and ftp's light modules are imported here; torch loads inside the command.
"""

from __future__ import annotations

from pathlib import Path

import click

from ftp import hookimpl
from ftp.cli import subgroup
from ftp.progress import info


@hookimpl
def register_commands(cli: click.Group) -> None:
    subgroup(cli, "audit", "Audits of a trained model (leakage, ...).").add_command(leakage)


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
    from ftp.plugins.audit.leakage import audit_run
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
