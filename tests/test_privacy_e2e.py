"""Nothing leaves the machine, proven on the whole loop: `ftp data import` (scrubbed, `ner`
tier) → `ftp train` (tiny model, LoRA, a few steps; tokenisation and packing inside) →
`ftp eval` (testset evaluator) → `ftp audit leakage` (placeholders, against the raw file)
with the network guard on, through the real CLI commands.

The in-process run asserts that the guard refused nothing (a library that catches the
guard's error and carries on is still caught: every refusal is recorded). The same loop then
runs in a subprocess inside `unshare -n`, a network namespace with no network at all, where
the machine allows it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftp import hookimpl
from ftp.offline import blocked_attempts, guard_enabled, online_env

RAW = ("ana.lima@example.org", "+1 415-555-0132", "Ana Lima", "10.20.30.40")
WORDS = "refund router billing ticket summary answer priority high low product".split()


def _records(n: int = 32) -> list[dict[str, str]]:
    """Support-ticket pairs; every fourth one carries the same PII in its instruction."""
    rows = []
    for i in range(n):
        words = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(3 + i % 5))
        pii = (f" From: {RAW[2]}, mail {RAW[0]}, phone {RAW[1]}, host {RAW[3]}."
               if i % 4 == 0 else "")
        answer = f"{WORDS[i % len(WORDS)]} {WORDS[(i * 3) % len(WORDS)]}"
        rows.append({"instruction": f"Ticket {i}: {words}.{pii}", "input": "",
                     "output": answer + (f", copy {RAW[0]}" if pii else "")})
    return rows


def _write_project(root: Path, model: Path) -> Path:
    """An ftp project on the tiny model with small, fast settings; the data file's path."""
    (root / "ftp.toml").write_text(
        f'[model]\npath = "{model}"\n'
        "[data]\nvalidation_fraction = 0.15\ntest_fraction = 0.2\n"
        "[train]\nmethod = \"lora\"\nmax_steps = 3\nbatch_size = 4\nsave_steps = 3\n"
        "eval_steps = 3\nlearning_rate = 1e-3\n"
        "[eval]\nmax_new_tokens = 8\nbatch_size = 4\n"
        '[privacy]\ntier = "ner"\nworkers = 1\n')
    data = root / "tickets.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _records()))
    return data


def _commands(data: Path) -> list[list[str]]:
    return [["data", "import", str(data), "--json"],
            ["-q", "train", "--json", "--name", "e2e"],
            ["-q", "eval", "e2e", "--suite", "testset", "--limit", "4", "--json"],
            ["-q", "audit", "leakage", "e2e", "--placeholder-sites", "4", "--surrogates", "4",
             "--raw", str(data), "--json"]]


def _json_of(output: str) -> dict:
    return json.loads(output[output.index("{"):])


def _check_outcome(root: Path, outputs: list[str]) -> None:
    """Scrubbed in the store, trained, evaluated; the figures come from the real commands."""
    import sqlite3

    dataset, run, report, audit = (_json_of(o) for o in outputs)
    assert dataset["scrub_report"]["entities"]["EMAIL_ADDRESS"] == 16
    stored = [r for (r,) in sqlite3.connect(root / ".ftp" / "ftp.db").execute(
        "select record from examples")]
    assert len(stored) == dataset["counts"]["total"] > 0
    text = "\n".join(stored)
    assert not [value for value in RAW if value in text]
    for placeholder in ("<PERSON>", "<EMAIL_ADDRESS>", "<PHONE_NUMBER>", "<IP_ADDRESS>"):
        assert placeholder in text
    assert run["status"] == "finished" and run["summary"]["steps"] == 3
    assert (Path(run["summary"]["final_model"]) / "adapter_config.json").is_file()
    results = {r["metric"]: r for r in report["results"] if r["task"] == "testset"}
    assert results["token_f1"]["n"] == min(4, dataset["counts"]["test"])
    placeholders = audit["placeholders"]
    assert placeholders["base_compared"]  # the LoRA adapter switched off
    assert placeholders["summary"]["all"]["with_original"] == len(placeholders["sites"]) > 0


@pytest.fixture
def loop_project(project, tiny_model):
    """The project; torch on one thread (a tiny model: on a shared 2-core machine a second
    thread only contends, several times slower)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield project.root, _write_project(project.root, tiny_model)
    torch.set_num_threads(threads)


def test_whole_loop_makes_no_connection_outside_loopback(loop_project, invoke):
    root, data = loop_project
    assert guard_enabled()
    before = len(blocked_attempts())
    outputs = []
    for args in _commands(data):
        started = time.perf_counter()
        result = invoke(*args)
        print(args[:3], f"{time.perf_counter() - started:.1f} s")
        assert result.exit_code == 0, f"ftp {' '.join(args)}:\n{result.output}"
        outputs.append(result.stdout)
    assert blocked_attempts()[before:] == []
    _check_outcome(root, outputs)


class _PhonesHome:
    """A plugin that tries to reach a server when a run starts and hides the failure."""

    @staticmethod
    def _try() -> None:
        import socket

        try:
            socket.create_connection(("203.0.113.9", 443), timeout=1)
        except Exception:  # noqa: BLE001 - what a careless library does
            pass

    @hookimpl
    def ftp_run_started(self, project, run) -> None:
        self._try()


def test_a_swallowed_attempt_is_still_recorded(loop_project, invoke, register_plugin):
    """The check above can fail: an attempt whose error a library swallows is counted."""
    root, data = loop_project
    register_plugin(_PhonesHome(), "phones-home")
    before = len(blocked_attempts())
    result = invoke(*_commands(data)[0])
    assert result.exit_code == 0, result.output
    attempts = blocked_attempts()[before:]
    assert [host for host, _ in attempts] == ["203.0.113.9"]
    assert "test_privacy_e2e.py" in attempts[0][1] and "_try" in attempts[0][1]


# The same loop in a fresh interpreter: the CLI's own start-up (offline variables, guard),
# each command in turn, then the guard's record printed as the last line.
DRIVER = """
import json, sys
from ftp.cli import main
from ftp.offline import blocked_attempts
for args in json.loads(sys.argv[1]):
    try:
        main(args)
    except SystemExit as done:
        if done.code not in (0, None):
            raise
    print("\\n@@END@@", flush=True)
print(json.dumps({"blocked": blocked_attempts()}))
"""


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="`unshare -n` is not permitted here "
                    "(needs root or unprivileged user namespaces)")
def test_whole_loop_runs_in_a_namespace_without_network(loop_project):
    root, data = loop_project
    env = {**os.environ, "FTP_HOME": str(root / "home"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", DRIVER, json.dumps(_commands(data))],
        capture_output=True, text=True, env=env, cwd=root, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    *outputs, last = done.stdout.split("@@END@@")
    assert json.loads(last.strip().splitlines()[-1]) == {"blocked": []}
    _check_outcome(root, outputs)
    # without ftp's guard (children inherit it), so that the kernel is what refuses
    probe = subprocess.run(["unshare", "-n", sys.executable, "-c",
                            "import socket; socket.create_connection(('203.0.113.7', 80), 1)"],
                           capture_output=True, text=True, env=online_env())
    assert "Network is unreachable" in probe.stderr  # the namespace really has no network
