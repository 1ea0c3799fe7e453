"""`ftp review`: the human-review page, and export/import of ratings."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from ftp import hookimpl
from ftp.api import Project
from ftp.errors import UserError
from ftp.progress import info


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(review)


@click.command()
@click.argument("runs", nargs=-1)
@click.option("--task", help="Only samples of this task.")
@click.option("--limit", type=int, default=200, show_default=True,
              help="At most this many samples per run.")
@click.option("--port", type=int, default=0, help="Port on 127.0.0.1 (default: a free one).")
@click.option("--reviewer", default=None, help="Your name on the ratings (default: login).")
@click.option("--seed", type=int, default=None, help="Seed of the blind pair order.")
@click.option("--export", "export_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write all ratings and preferences to this JSONL file and exit.")
@click.option("--import", "import_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Add ratings and preferences from this JSONL file and exit.")
def review(runs: tuple[str, ...], task: str | None, limit: int, port: int,
           reviewer: str | None, seed: int | None, export_path: Path | None,
           import_path: Path | None) -> None:
    """Rate outputs of RUNS in the browser (default: the latest run with samples).

    With two runs the page also shows both runs' outputs for the same prompt, blind and in
    random order, to pick the better one. Served on 127.0.0.1 only, with a secret token in
    the URL. Keys: p/f pass/fail, 1-5 score, t tags, n note, j/k next/previous;
    in compare: a/b better, = tie, s skip.
    """
    from ftp.project import Project

    project = Project.find()
    if export_path or import_path:
        return _transfer(project.store, export_path, import_path)
    _serve(project, list(runs), task, limit, port, reviewer or _login(), seed)


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "reviewer"


def _transfer(store, export_path: Path | None, import_path: Path | None) -> None:
    if export_path and import_path:
        raise UserError("use --export or --import, not both")
    from ftp.plugins.review.io import export_reviews, import_reviews

    if export_path:
        counts = export_reviews(store, export_path)
        click.echo(f"Wrote {counts['rating']} ratings and {counts['preference']} preferences "
                   f"to {export_path}")
    else:
        counts = import_reviews(store, import_path)
        click.echo(f"Imported {counts['rating']} ratings and {counts['preference']} preferences"
                   f" ({counts['skipped']} already there) from {import_path}")


def _serve(project: Project, runs: list[str], task: str | None, limit: int, port: int, reviewer: str,
           seed: int | None) -> None:
    from ftp.plugins.review.data import load_review_set
    from ftp.plugins.review.server import ReviewApp, make_server, url_for

    review_set = load_review_set(project.store, runs, task=task, limit=limit, seed=seed)
    app = ReviewApp(project.store.path, review_set, reviewer)
    server = make_server(app, port)
    pairs = f", {len(review_set.pairs)} blind pairs" if review_set.pairs else ""
    info(f"Reviewing {len(review_set.samples)} samples of run(s) "
         f"{', '.join(map(str, review_set.run_ids))}{pairs}.")
    click.echo(f"Open {url_for(server, app)}")
    info("Ctrl-C stops the server; ratings are saved as you go.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        info("Stopped.")
    finally:
        server.server_close()
