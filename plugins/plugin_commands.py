"""`ftp plugins`, `ftp install`, `ftp uninstall`, `ftp plugin new`: manage plugins."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import asdict
from importlib import resources
from pathlib import Path

import click

from ftp import hookimpl
from ftp.errors import CheckFailed, UserError
from ftp.output import echo_json, echo_table


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(plugins_command)
    cli.add_command(install)
    cli.add_command(uninstall)
    cli.add_command(plugin_group)


@click.command(name="plugins")
@click.option("--all", "include_builtins", is_flag=True, help="Include the built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_command(include_builtins: bool, as_json: bool) -> None:
    """List installed plugins with their distribution, version and hooks."""
    from ftp.plugin_manager import list_plugins, load_failures

    infos = [asdict(info) for info in list_plugins(include_builtins=include_builtins)]
    failures = [asdict(failure) for failure in load_failures()]
    if as_json:
        echo_json({"plugins": infos, "failed": failures} if failures else infos)
        return
    echo_table(infos, ("name", "distribution", "version", "hooks"),
               empty="No third-party plugins installed (`ftp plugins --all` shows built-ins).")
    for failure in failures:
        click.echo(f"skipped plugin {failure['name']} ({failure['distribution']}): "
                   f"{failure['error']}", err=True)


def _pip(*args: str) -> None:
    from ftp.offline import online_env

    command = [sys.executable, "-m", "pip", *args]
    # installing is the one thing meant to reach a package index: pip runs without the guard
    if subprocess.run(command, env=online_env()).returncode != 0:
        raise CheckFailed(f"pip {' '.join(args)} failed")


@click.command()
@click.argument("packages", nargs=-1)
@click.option("-e", "--editable", help="Install a local project in editable mode.")
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade the packages.")
def install(packages: tuple[str, ...], editable: str | None, upgrade: bool) -> None:
    """Install packages (plugins) into the same environment as ftp, with pip."""
    if not packages and not editable:
        raise UserError("name a package to install, or -e PATH for a local one")
    args = ["install", *packages] + (["--upgrade"] if upgrade else [])
    _pip(*args, *(["-e", editable] if editable else []))


@click.command()
@click.argument("packages", nargs=-1, required=True)
def uninstall(packages: tuple[str, ...]) -> None:
    """Uninstall packages from ftp's environment, with pip."""
    _pip("uninstall", "-y", *packages)


@click.group(name="plugin")
def plugin_group() -> None:
    """Write your own plugins."""


@plugin_group.command(name="new")
@click.argument("name")
@click.option("--directory", "-d", type=click.Path(path_type=Path), default=None,
              help="Where to create the package (default: ./ftp-NAME).")
def plugin_new(name: str, directory: Path | None) -> None:
    """Scaffold a plugin package: pyproject with the entry point, one hook, one test."""
    target = scaffold_plugin(name, directory)
    click.echo(f"Created {target}\nInstall it with: ftp install -e {target}")


def scaffold_plugin(name: str, directory: Path | None = None) -> Path:
    """Write the plugin package for ``name``; returns its folder."""
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
        raise UserError(f"plugin name {name!r} must be lower-case letters, digits, - or _")
    slug = name.replace("-", "_")
    values = {"name": slug, "dist": f"ftp-{name}", "module": f"ftp_{slug}"}
    target = directory or Path(values["dist"])
    if target.exists() and any(target.iterdir()):
        raise UserError(f"{target} exists and is not empty")
    files = {
        "pyproject.toml": "pyproject.toml.tmpl",
        f"{values['module']}.py": "module.py.tmpl",
        f"tests/test_{values['module']}.py": "test_module.py.tmpl",
        "README.md": "README.md.tmpl",
    }
    templates = resources.files("ftp").joinpath("templates/plugin")
    for out_name, template in files.items():
        path = target / out_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(templates.joinpath(template).read_text().format(**values))
    return target
