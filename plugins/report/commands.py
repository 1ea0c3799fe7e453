"""`ftp report RUN [--compare RUN ...] [--html FILE] [--markdown FILE]`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ftp import hookimpl
from ftp.progress import info

if TYPE_CHECKING:
    from ftp.project import Project


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(report)


def write_report(project: Project, refs: list[str], html_path: Path | None = None,
                 markdown_path: Path | None = None) -> dict:
    """Gather the runs' data from the store and write the requested files."""
    from ftp.plugins.report import render
    from ftp.plugins.report.data import gather
    from ftp.plugins.report.plots import all_plots

    data = gather(project.store, refs)
    if html_path:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render.render_html(data, all_plots(data)), encoding="utf-8")
    if markdown_path:
        markdown_path.parent.mkdir(parents=True, exist_ok=True)
        markdown_path.write_text(render.render_markdown(data), encoding="utf-8")
    return data


@click.command()
@click.argument("run")
@click.option("--compare", "compare_runs", multiple=True, metavar="RUN",
              help="Another run to show beside RUN (repeatable).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the self-contained HTML report here.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the markdown report here (for a CI job page).")
def report(run: str, compare_runs: tuple[str, ...], html_path: Path | None,
           markdown_path: Path | None) -> None:
    """Report on RUN: loss curves, scores with error bars, error categories, scrub report,
    leakage audit and gate decisions. Without --html/--markdown, prints the markdown."""
    from ftp.plugins.report import render
    from ftp.project import Project

    project = Project.find()
    data = write_report(project, [run, *compare_runs], html_path, markdown_path)
    for path in (html_path, markdown_path):
        if path:
            info(f"Wrote {path}")
    if not (html_path or markdown_path):
        click.echo(render.render_markdown(data), nl=False)
