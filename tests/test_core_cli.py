"""The command line: help, init, finding the project, reading the store, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import ftp
from ftp.project import Project


def _ftp(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return _python("-m", "ftp", *args, cwd=cwd)


def _python(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """A fresh interpreter: what it imports and prints is its own."""
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True)


def test_help_lists_every_command_with_a_description(invoke):
    result = invoke("--help")
    assert result.exit_code == 0
    commands = result.output.split("Commands:")[1].splitlines()
    names = [line.split()[0] for line in commands if line.startswith("  ") and
             not line.startswith("    ")]
    assert {"init", "runs", "show", "compare", "plugins", "install", "doctor"} <= set(names)
    assert all(len(line.split()) > 1 for line in commands if line.startswith("  ")
               and not line.startswith("    "))


def test_help_does_not_import_heavy_libraries(tmp_path):
    code = ("import sys; from ftp.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'transformers', 'lm_eval', 'presidio_analyzer')"
            " if m in sys.modules]\nprint('HEAVY=' + ','.join(heavy))")
    result = _python("-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY="


def test_init_creates_an_annotated_project(tmp_path, invoke):
    result = invoke("init", str(tmp_path / "proj"))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "proj" / "ftp.toml").read_text()
    for section in ("[project]", "[model]", "[data]", "[format]", "[train]", "[eval]",
                    "[gates]", "[privacy]"):
        assert section in text
    assert text.count("#") > 20  # annotated
    assert (tmp_path / "proj" / ".ftp" / "ftp.db").is_file()


def test_init_refuses_to_overwrite(tmp_path, invoke):
    invoke("init", str(tmp_path))
    result = invoke("init", str(tmp_path))
    assert result.exit_code == 2
    assert "already exists" in result.output and "Traceback" not in result.output


def test_commands_find_the_project_from_a_subfolder(project):
    sub = project.root / "a" / "b"
    sub.mkdir(parents=True)
    project.store.start_run("train", name="from-root")
    result = _ftp("runs", "--json", cwd=sub)
    assert result.returncode == 0, result.stderr
    assert [run["name"] for run in json.loads(result.stdout)] == ["from-root"]


def test_outside_a_project_says_how_to_make_one(tmp_path):
    result = _ftp("runs", cwd=tmp_path)
    assert result.returncode == 2
    assert "no ftp.toml" in result.stderr and "ftp init" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_config_key_names_the_key_and_the_allowed_ones(project):
    project.config_path.write_text(project.config_path.read_text().replace(
        "learning_rate = 2e-4", "learning_rat = 2e-4", 1))
    result = _ftp("doctor", cwd=project.root)
    assert result.returncode == 1
    assert "unknown key train.learning_rat" in result.stdout
    assert "allowed in [train]: method, epochs" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_config_errors_exit_2_with_file_and_line(project):
    project.config_path.write_text("[train]\nepochs = \n")
    from ftp.errors import ConfigError

    with pytest.raises(ConfigError, match=r"ftp\.toml.*line 2"):
        _ = Project(project.root).config
    result = _ftp("doctor", cwd=project.root)
    assert "line 2" in result.stdout and "Traceback" not in result.stderr


def test_bad_key_type_is_reported(tmp_path):
    from ftp.config import validate
    from ftp.errors import ConfigError

    with pytest.raises(ConfigError, match="train.epochs must be a number"):
        validate({"train": {"epochs": "many"}})
    with pytest.raises(ConfigError, match=r"unknown section \[trian\]; allowed: .*train"):
        validate({"trian": {}})


def test_debug_shows_the_traceback(tmp_path):
    result = _ftp("--debug", "runs", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_show_and_compare_read_the_store(project, invoke):
    store = project.store
    first = store.start_run("eval", name="base")
    store.add_eval_results(first.id, [{"task": "arc_easy", "metric": "acc", "value": 0.40,
                                       "stderr": 0.01, "n": 100}])
    store.finish_run(first.id)
    second = store.start_run("eval", name="tuned")
    store.add_eval_results(second.id, [{"task": "arc_easy", "metric": "acc", "value": 0.45,
                                        "stderr": 0.01, "n": 100}])
    store.log_metrics(second.id, 3, {"loss": 1.25})
    store.finish_run(second.id)
    shown = invoke("show", "tuned")
    assert "arc_easy" in shown.output and "train/loss" in shown.output
    rows = json.loads(invoke("compare", "base", "tuned", "--json").output)
    (acc,) = [row for row in rows if row["what"] == "arc_easy acc"]
    assert acc["first"] == 0.40 and acc["second"] == 0.45
    assert abs(acc["difference"] - 0.05) < 1e-12
    table = invoke("runs").output
    assert "base" in table and "tuned" in table and "finished" in table


def test_python_api_matches_the_cli(project):
    assert ftp.open_project(str(project.root / ".ftp")).root == project.root
    with project.run("train", name="api") as run:
        project.store.log_metrics(run.id, 1, {"loss": 2.5})
    assert project.show("api")["metrics"] == {"train/loss": 2.5}
    assert [r.name for r in project.runs()] == ["api"]


def test_doctor_reports_versions_devices_offline_state_and_plugins(project, invoke):
    result = invoke("doctor", "--json")
    report = json.loads(result.output)
    assert report["offline"]["guard"] == "on"
    assert report["offline"]["env"]["HF_HUB_OFFLINE"] == "1"
    assert report["devices"]["cpu_threads"] >= 1
    assert "torch" in report["versions"] and "ftp" in report["versions"]
    assert "ftp.plugins.doctor" in report["plugins"]["loaded"]
    assert report["project"]["found"] and report["locations"]["models"]["path"]
    assert result.exit_code == (1 if report["problems"] else 0)


def test_hook_register_commands(register_plugin, invoke):
    import click

    class Commands:
        @ftp.hookimpl
        def register_commands(self, cli):
            @click.command(name="hello-test")
            def hello():
                """Say hello."""
                click.echo("hello from a plugin")

            cli.add_command(hello)

    register_plugin(Commands(), name="commands")
    from ftp.plugin_manager import get_plugin_manager

    group = click.Group()
    get_plugin_manager().hook.register_commands(cli=group)
    assert "hello-test" in group.commands
    assert {"init", "doctor", "plugins"} <= set(group.commands)


def test_plugin_new_scaffolds_an_installable_plugin(tmp_path):
    target = tmp_path / "ftp-loud"
    result = _ftp("plugin", "new", "loud", "--directory", str(target), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    pyproject = (target / "pyproject.toml").read_text()
    assert '[project.entry-points.ftp]' in pyproject and 'loud = "ftp_loud"' in pyproject
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                              "--no-build-isolation", "-e", str(target)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    try:
        listed = json.loads(_ftp("plugins", "--json", cwd=tmp_path).stdout)
        assert any(p["name"] == "loud" and p["distribution"] == "ftp-loud" for p in listed)
        tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                str(target / "tests")], capture_output=True, text=True,
                               cwd=target)
        assert tests.returncode == 0, tests.stdout + tests.stderr
        assert "2 passed" in tests.stdout
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", "ftp-loud"],
                       capture_output=True)


def test_plugin_new_refuses_a_bad_name(invoke):
    result = invoke("plugin", "new", "Bad Name!")
    assert result.exit_code == 2 and "lower-case" in result.output


def test_library_noise_hidden_but_not_ours(tmp_path):
    """Libraries' deprecation notices to each other and lm-eval's loaded-model warnings are
    hidden from users; ftp's own warnings and errors are not."""
    script = (
        "import logging, warnings\n"
        "from ftp.cli import quiet_library_noise\n"
        "quiet_library_noise()\n"
        "warnings.warn_explicit('old name', FutureWarning, 'modeling_utils.py', 1,"
        " module='transformers.modeling_utils')\n"
        "warnings.warn_explicit('ours', FutureWarning, 'x.py', 1, module='ftp.plugins.x')\n"
        "logging.basicConfig()\n"
        "logging.getLogger('lm_eval.models.huggingface').warning('model kwarg not a str')\n"
        "logging.getLogger('lm_eval.models.huggingface').error('real lm-eval error')\n")
    result = _python("-c", script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ours" in result.stderr and "real lm-eval error" in result.stderr
    assert "old name" not in result.stderr and "not a str" not in result.stderr
