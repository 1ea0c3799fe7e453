"""Shared fixtures. The offline variables and the network guard are set before anything
imports transformers, datasets or presidio, so a library that phones home fails a test."""

from __future__ import annotations

import os
from pathlib import Path

from ftp.offline import go_offline

go_offline()

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from ftp.plugin_manager import get_plugin_manager, reset_plugin_manager  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHDATA = Path(os.environ.get("FTP_BENCHDATA", REPO_ROOT.parent / "shared" / "benchdata"))

# Tiny models run several times faster on one thread than on two (thread overhead dominates);
# subprocesses (torchrun, the CLI) inherit this too.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Each test gets its own FTP_HOME so nothing leaks between tests or into ~."""
    if "FTP_TEST_KEEP_HOME" not in os.environ:
        monkeypatch.setenv("FTP_HOME", str(tmp_path_factory.mktemp("ftp_home")))


@pytest.fixture
def cli_runner():
    return CliRunner()


@pytest.fixture
def invoke(cli_runner):
    """Run the `ftp` CLI in-process: ``invoke("runs", "--json")``."""
    from ftp.cli import build_cli

    def run(*args: str, input: str | None = None):
        return cli_runner.invoke(build_cli(), list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A fresh project in a temporary folder, which is also the current folder."""
    from ftp.project import Project

    monkeypatch.chdir(tmp_path)
    return Project.init(tmp_path, name="test-project")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny Llama with a local tokenizer, built once per test session."""
    from ftp.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture
def register_plugin():
    """Register a plugin object for one test and unregister it after (llm's pattern)."""
    pm = get_plugin_manager()
    registered = []

    def register(plugin: object, name: str) -> None:
        pm.register(plugin, name=name)
        registered.append(plugin)

    yield register
    for plugin in registered:
        pm.unregister(plugin)


@pytest.fixture(scope="session", autouse=True)
def _fresh_plugin_manager():
    reset_plugin_manager()
    yield


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
