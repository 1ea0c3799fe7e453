"""Nothing leaves the machine: the guard refuses non-loopback connections (naming the
caller), the scrubber makes no connection attempt, and a scrub runs in a network namespace
without any network at all (where `unshare -n` is allowed)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from ftp.errors import NetworkBlocked
from ftp.offline import blocked_attempts, guard_enabled


def test_guard_refuses_outside_loopback_and_names_the_caller():
    assert guard_enabled()
    with pytest.raises(NetworkBlocked) as caught:
        socket.create_connection(("203.0.113.7", 443), timeout=1)
    message = str(caught.value)
    assert "203.0.113.7" in message
    assert "test_privacy_network.py" in message and "test_guard_refuses" in message
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("example.com", 443)


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    with server, socket.create_connection(server.getsockname(), timeout=1):
        pass


def test_scrubbing_makes_no_connection_attempt():
    from ftp.privacy import build_scrubber

    before = len(blocked_attempts())
    for tier in ("patterns", "ner"):
        scrubber = build_scrubber({"tier": tier}, secret=b"k")
        out = scrubber.scrub_text("Dear Ana Lima, mail ana@lima.co.uk from 10.0.0.1")
        assert "<EMAIL_ADDRESS>" in out and "<IP_ADDRESS>" in out
    assert blocked_attempts()[before:] == []


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="`unshare -n` is not permitted here "
                    "(needs root or unprivileged user namespaces)")
def test_scrub_runs_in_a_namespace_without_network(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": "Dear Ana Lima, call 001-555-555-0100"}) + "\n")
    code = "from ftp.cli import main; main()"
    env = {**os.environ, "FTP_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", code, "scrub", str(source), "--tier", "ner",
         "-o", str(tmp_path / "out.jsonl")],
        capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "out.jsonl").read_text()) == {
        "text": "Dear <PERSON>, call <PHONE_NUMBER>"}
    probe = subprocess.run(["unshare", "-n", sys.executable, "-c",
                            "import socket; socket.create_connection(('203.0.113.7', 80), 1)"],
                           capture_output=True, text=True)
    assert probe.returncode != 0  # the namespace really has no network
