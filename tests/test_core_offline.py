"""The offline guard refuses any connection outside loopback, naming the caller."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from ftp.errors import NetworkBlocked
from ftp.offline import blocked_attempts, guard_enabled, is_loopback


def test_the_guard_is_on_in_tests_and_the_variables_are_set():
    assert guard_enabled()
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["HF_DATASETS_OFFLINE"] == "1"
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"
    assert os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] == ""


def _connect_out():
    with socket.socket() as sock:
        sock.settimeout(1)
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed


def test_a_connection_outside_loopback_is_refused_naming_the_caller():
    with pytest.raises(NetworkBlocked) as raised:
        _connect_out()
    message = str(raised.value)
    assert "192.0.2.1" in message and "test_core_offline.py" in message
    assert "_connect_out" in message
    assert blocked_attempts()[-1][0] == "192.0.2.1"


def test_name_lookups_are_refused_too():
    with pytest.raises(NetworkBlocked, match="huggingface.co"):
        socket.getaddrinfo("huggingface.co", 443)


def test_a_hub_download_fails_without_touching_the_network():
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    before = len(blocked_attempts())
    with pytest.raises((LocalEntryNotFoundError, NetworkBlocked)):
        hf_hub_download("HuggingFaceTB/SmolLM2-135M-Instruct", "config.json")
    assert len(blocked_attempts()) == before  # HF_HUB_OFFLINE stopped it before any socket


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = threading.Thread(target=lambda: server.accept()[0].close())
    accepted.start()
    with socket.create_connection(server.getsockname(), timeout=2):
        pass
    accepted.join(2)
    server.close()


@pytest.mark.parametrize("host,expected", [
    ("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.8.9.10", True),
    ("10.0.0.1", False), ("8.8.8.8", False), ("example.com", False), (None, True),
])
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected
