"""`ftp init`, `ftp runs`, `ftp show`, `ftp compare`: create a project and read its store."""

from __future__ import annotations

from pathlib import Path

import click

from ftp import hookimpl
from ftp.output import echo_json, echo_table, format_value
from ftp.progress import info

RUN_COLUMNS = ("id", "kind", "name", "status", "model", "started_at", "duration_s")


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(init)
    cli.add_command(runs)
    cli.add_command(show)
    cli.add_command(compare)


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="Project name (default: the folder's name).")
def init(directory: Path, name: str | None) -> None:
    """Create a project: an annotated ftp.toml and the .ftp/ store."""
    from ftp.project import Project

    project = Project.init(directory, name=name)
    info(f"Created {project.config_path} and {project.state_dir}/")
    info("Next: edit ftp.toml, then `ftp data import FILE`.")


@click.command()
@click.option("--kind", help="Only runs of this kind (import, train, eval...).")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def runs(kind: str | None, limit: int, as_json: bool) -> None:
    """List the project's runs, newest first."""
    from ftp.project import Project

    found = [run.to_dict() for run in Project.find().runs(kind=kind, limit=limit)]
    if as_json:
        echo_json(found)
    else:
        echo_table(found, RUN_COLUMNS, empty="No runs yet.")


@click.command()
@click.argument("run")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(run: str, as_json: bool) -> None:
    """Show one run (an id, a name or `latest`): config, metrics, results."""
    from ftp.project import Project

    shown = Project.find().show(run)
    if as_json:
        echo_json(shown)
        return
    record = dict(shown["run"])
    record.get("summary", {}).pop("traceback", None)
    for key, value in record.items():
        if value not in (None, {}, ""):
            click.echo(f"{key}: {format_value(value)}")
    _echo_section("metrics (last value)", [
        {"metric": k, "value": v} for k, v in shown["metrics"].items()], ("metric", "value"))
    _echo_section("evaluation", shown["eval_results"], ("task", "metric", "value", "stderr", "n"))


def _echo_section(title: str, rows: list[dict], columns: tuple[str, ...]) -> None:
    if rows:
        click.echo(f"\n{title}:")
        echo_table(rows, columns)


@click.command()
@click.argument("first")
@click.argument("second")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def compare(first: str, second: str, as_json: bool) -> None:
    """Compare two runs' metrics and results side by side."""
    from ftp.project import Project

    rows = Project.find().compare(first, second)
    if as_json:
        echo_json(rows)
    else:
        echo_table(rows, ("what", "first", "second", "difference"),
                   empty="Neither run has metrics or results yet.")
