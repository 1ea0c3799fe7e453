"""`ftp scrub`: scrub a file, or measure the scrubber on a labelled corpus.

Only click and ftp's light modules are imported here; Presidio, spaCy and torch load inside
the commands.
"""

from __future__ import annotations

from pathlib import Path

import click

from ftp import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(scrub)


def _privacy_config(tier: str | None) -> dict:
    """The project's [privacy] table, or the defaults outside a project."""
    from ftp import config
    from ftp.project import Project

    project = Project.find_optional()
    settings = dict(project.config["privacy"] if project else config.defaults()["privacy"])
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
              help="Override privacy.tier: ner (spaCy NER, the default: finds names and "
                   "places) or patterns (no model, faster, keeps most names).")
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
    from ftp.plugins.scrub.run import run_evaluation, run_scrub

    settings = _privacy_config(tier)
    if evaluate_path:
        run_evaluation(evaluate_path, settings, report_path)
        return
    if input_path is None:
        raise UserError("give an INPUT file to scrub, or --evaluate FILE")
    run_scrub(input_path, output or _default_output(input_path), settings, fmt,
              list(fields) or None, report_path)
