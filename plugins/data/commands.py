"""`ftp data ...`: import, list, diff, stats, show, generate.

Only click at module level; the pipeline is imported inside each command.
"""

from __future__ import annotations

from pathlib import Path

import click

from ftp import hookimpl
from ftp.api import Project
from ftp.output import echo_json, echo_table
from ftp.progress import info

LIST_COLUMNS = ("id", "name", "version", "format", "train", "validation", "test",
                "skipped", "duplicates", "source", "created_at")


@hookimpl
def register_commands(cli: click.Group) -> None:
    from ftp.cli import subgroup
    from ftp.plugins.data import inspect_commands

    group = subgroup(cli, "data", "Import, inspect, split and generate training data.")
    for command in (import_command, list_command, *inspect_commands.COMMANDS):
        group.add_command(command)


@click.command("import")
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option("--name", help="Dataset name (default: the file's name); a new version if it "
                             "exists.")
@click.option("--format", "fmt", help="Record format (auto, alpaca, prompt_completion, chat, "
                                      "preference, text), or a reader by name (jsonl, csv...).")
@click.option("--map", "mapping", help="Field names: instruction=question,output=answer.")
@click.option("--on-error", type=click.Choice(["fail", "skip"]),
              help="fail: store nothing at a bad record; skip: store the rest, report each.")
@click.option("--table", help="SQLite: the table to read.")
@click.option("--query", help="SQLite: a query whose rows are the records.")
@click.option("--from-reviews", is_flag=True,
              help="Build a preference dataset from human reviewers' choices.")
@click.option("--max-line-bytes", type=click.IntRange(min=1),
              help="Refuse a line longer than this (default 8,000,000 bytes).")
@click.option("--max-field-chars", type=click.IntRange(min=1),
              help="Refuse a text field longer than this (default 1,000,000 characters, "
                   "the NER model's limit).")
@click.option("--json", "as_json", is_flag=True, help="Print the dataset as JSON.")
def import_command(source: Path | None, name: str | None, fmt: str | None,
                   mapping: str | None, on_error: str | None, table: str | None,
                   query: str | None, from_reviews: bool, as_json: bool,
                   max_line_bytes: int | None = None, max_field_chars: int | None = None
                   ) -> None:
    """Validate, scrub, deduplicate, split and store SOURCE as a dataset version.

    SOURCE is a JSONL, JSON, CSV/TSV, Parquet, Arrow or SQLite file, a folder of text files
    or a Hugging Face dataset saved to disk. Without SOURCE, imports [data] sources.
    """
    from ftp.errors import UserError
    from ftp.project import Project

    project = Project.find()
    settings = project.config["data"]
    options = {"name": name, "fmt": fmt or settings["format"],
               "mapping": mapping or settings["map"], "on_error": on_error or settings["on_error"],
               "max_line_bytes": max_line_bytes, "max_field_chars": max_field_chars}
    if from_reviews:
        from ftp.plugins.data.reviews import import_reviews

        datasets = [import_reviews(project, name=name or "reviews")]
    else:
        sources = [source] if source else [Path(s) for s in _as_list(settings["sources"])]
        if not sources:
            raise UserError("nothing to import", hint="pass a file, or list files in "
                                                      "[data] sources in ftp.toml")
        datasets = [_import_one(project, s, options, table, query) for s in sources]
    for dataset in datasets:
        report_dataset(dataset, as_json)
        for warning in dataset["meta"].get("split_warnings") or []:
            click.echo(f"warning: {dataset['name']}@{dataset['version']}: {warning}", err=True)


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value or [])


def _import_one(project: Project, source: Path, options: dict, table, query) -> dict:
    from ftp.plugins.data.api import import_dataset
    from ftp.plugins.data.sources import reader_named

    extra = {k: v for k, v in (("table", table), ("query", query)) if v}
    reader = reader_named(options["fmt"])
    if reader is not None:  # --format NAME names a data source: read with it, detect records
        options, extra["source_kind"] = {**options, "fmt": "auto"}, reader
    return import_dataset(project, source, **options, **extra)


def report_dataset(dataset: dict, as_json: bool) -> None:
    if as_json:
        echo_json(dataset)
        return
    counts, meta = dataset["counts"], dataset["meta"]
    for warning in meta.get("privacy_warnings") or []:  # settings that scrub less, no values
        click.echo(f"warning: {warning}", err=True)
    for entry in meta.get("skipped_lines", []):
        info(f"skipped {dataset['source']}:{entry['location']}: {entry['reason']}")
    if meta.get("skipped", 0) > len(meta.get("skipped_lines", [])):
        info(f"... every skipped line is listed in {meta['skipped_file']}")
    click.echo(
        f"{dataset['name']}@{dataset['version']} (id {dataset['id']}, {dataset['format']}): "
        f"{counts['total']} examples (train {counts['train']}, validation "
        f"{counts['validation']}, test {counts['test']}); read {counts['read']}, skipped "
        f"{counts['skipped']}, duplicates {counts['duplicates']}, near-duplicates "
        f"{counts['near_duplicates']}, dropped by the scrubber {counts['scrub_dropped']}")
    entities = dataset["scrub_report"].get("entities") or {}
    if entities:
        click.echo("scrubbed: " + ", ".join(f"{k} {v}" for k, v in entities.items()))
    if counts.get("contaminated"):
        click.echo(f"warning: {counts['contaminated']} test/validation examples are "
                   "near-duplicates of training examples (tagged 'contaminated')")


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(as_json: bool) -> None:
    """List dataset versions with their split counts."""
    from ftp.plugins.data.catalog import list_datasets
    from ftp.project import Project

    datasets = list_datasets(Project.find())
    if as_json:
        echo_json(datasets)
        return
    rows = [{**d, **{k: d["counts"].get(k) for k in LIST_COLUMNS if k in d["counts"]}}
            for d in datasets]
    echo_table(rows, LIST_COLUMNS, empty="No datasets yet; `ftp data import FILE` adds one.")
