"""Nothing leaves the machine: the guard refuses non-loopback connections (naming the
caller) and the scrubber makes no connection attempt. The whole loop with the guard on, and
in a namespace without network, is in test_privacy_e2e.py."""

from __future__ import annotations

import socket

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
