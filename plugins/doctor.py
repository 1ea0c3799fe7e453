"""`ftp doctor`: versions, devices, offline state, where models and data are, plugin health."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import click

from ftp import hookimpl
from ftp.output import echo_json, echo_table


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(doctor)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--settings", "list_settings", is_flag=True,
              help="List every ftp.toml key plugins declare: type, default, plugin, help.")
def doctor(as_json: bool, list_settings: bool = False) -> None:
    """Check the installation: versions, devices, offline guard, models, data, plugins."""
    if list_settings:
        from ftp.settings import describe

        rows = describe()
        if as_json:
            echo_json(rows)
        else:
            echo_table(rows, ("section", "key", "type", "default", "plugin", "help"))
        return
    report = build_report()
    if as_json:
        echo_json(report)
    else:
        _echo_report(report)
    if report["problems"]:
        raise SystemExit(1)


def build_report() -> dict[str, Any]:
    from ftp.store import package_versions

    report: dict[str, Any] = {
        "versions": {"python": platform.python_version(), **package_versions()},
        "devices": devices(),
        "offline": offline_state(),
        "locations": locations(),
        "plugins": plugin_health(),
        "settings": settings_state(),
        "project": project_state(),
    }
    report["problems"] = _problems(report)
    return report


def devices() -> dict[str, Any]:
    import torch

    found: dict[str, Any] = {"cpu_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}
    found["cuda"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    found["mps"] = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return found


def offline_state() -> dict[str, Any]:
    from ftp.offline import OFFLINE_ENV, guard_enabled

    return {"guard": "on" if guard_enabled() else "off",
            "env": {key: os.environ.get(key) for key in OFFLINE_ENV}}


def _where(path: Path) -> dict[str, Any]:
    return {"path": str(path), "exists": path.exists()}


def locations() -> dict[str, Any]:
    from ftp.paths import benchmarks_dir, ftp_home, models_dir

    models = models_dir()
    installed = sorted(p.name for p in models.iterdir()) if models.is_dir() else []
    benches = benchmarks_dir()
    imported = sorted(p.name for p in benches.iterdir()) if benches.is_dir() else []
    return {"ftp_home": _where(ftp_home()), "models": {**_where(models), "installed": installed},
            "benchmarks": {**_where(benches), "installed": imported}}


def plugin_health() -> dict[str, Any]:
    from ftp.plugin_manager import list_plugins, load_failures
    from ftp.registry import KINDS, collect

    health: dict[str, Any] = {"loaded": [p.name for p in list_plugins(include_builtins=True)],
                              "failed": [f.__dict__ for f in load_failures()], "errors": []}
    for kind in KINDS:
        try:
            found = collect(kind)
        except Exception as error:  # report every broken registration, keep checking
            health["errors"].append(f"{kind}: {type(error).__name__}: {error}")
            continue
        health[kind] = sorted(found)
        health["errors"] += [str(found.conflict_error(kind, name)) for name in found.conflicts]
    return health


def settings_state() -> dict[str, Any]:
    """The ftp.toml sections plugins declare (``register_settings``), and who declared them."""
    from ftp import settings

    try:
        declared = settings.sections()
    except Exception as error:  # a broken declaration is a problem to show, not a crash
        return {"sections": {}, "error": f"{type(error).__name__}: {error}"}
    return {"sections": {name: {"plugin": section.plugin,
                                "keys": [s.key for s in section.settings]}
                         for name, section in declared.items()}}


def project_state() -> dict[str, Any]:
    from ftp.errors import FtpError
    from ftp.project import Project

    try:
        project = Project.find()
        project.config  # noqa: B018 - validates ftp.toml
    except FtpError as error:
        return {"found": False, "message": str(error)}
    return {"found": True, "root": str(project.root), "store": str(project.store.path),
            "runs": len(project.runs())}


def _problems(report: dict[str, Any]) -> list[str]:
    problems = [f"plugin {f['name']} failed: {f['error']}" for f in report["plugins"]["failed"]]
    problems += report["plugins"]["errors"]
    if report["settings"].get("error"):
        problems.append(f"settings: {report['settings']['error']}")
    if report["offline"]["guard"] != "on":
        problems.append("the offline guard is off")
    message = report["project"].get("message", "")
    if "ftp.toml" in message and "no ftp.toml" not in message:
        problems.append(message)
    return problems


def _echo_report(report: dict[str, Any]) -> None:
    click.echo(f"ftp {report['versions']['ftp']} on Python {report['versions']['python']} "
               f"({sys.executable})")
    click.echo("versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    dev = report["devices"]
    click.echo(f"devices: CPU {dev['cpu_threads']} threads ({dev['cpu_count']} cores); "
               f"CUDA: {', '.join(dev['cuda']) or 'none'}; MPS: {'yes' if dev['mps'] else 'no'}")
    offline = report["offline"]
    click.echo(f"offline guard: {offline['guard']}; " + ", ".join(
        f"{k}={v!r}" for k, v in offline["env"].items()))
    for name, where in report["locations"].items():
        state = "present" if where["exists"] else "missing"
        extra = f" ({', '.join(where['installed']) or 'empty'})" if "installed" in where else ""
        click.echo(f"{name}: {where['path']} [{state}]{extra}")
    click.echo("plugins: " + ", ".join(report["plugins"]["loaded"]))
    click.echo("ftp.toml sections: " + ", ".join(
        f"[{name}] ({len(section['keys'])} keys, {section['plugin']})"
        for name, section in report["settings"]["sections"].items()))
    project = report["project"]
    click.echo(f"project: {project['root']} ({project['runs']} runs)" if project["found"]
               else f"project: none ({project['message']})")
    for problem in report["problems"]:
        click.echo(f"PROBLEM: {problem}")
    if not report["problems"]:
        click.echo("All checks passed.")
