"""One test per gap the offline guard had: UDP sendto/sendmsg without connect, name and
address lookups (gethostbyname, gethostbyaddr, getnameinfo), a subprocess child, a
multiprocessing spawn (and forkserver) child, the Python API (`import ftp` alone), and
loopback in every spelling (127.1 allowed)."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys

import pytest

from ftp.errors import NetworkBlocked
from ftp.offline import CHILD_GUARD_DIR, is_loopback, online_env

OUTSIDE = ("192.0.2.1", 53)  # TEST-NET-1: never routed
PROBE = ("import socket\n"
         "try:\n"
         "    socket.create_connection(('192.0.2.1', 443), timeout=1)\n"
         "    print('CONNECTED')\n"
         "except Exception as error:\n"
         "    print(type(error).__name__, error)\n")


def test_udp_sendto_without_connect_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, \
            pytest.raises(NetworkBlocked, match="192.0.2.1"):
        sock.sendto(b"x", OUTSIDE)


def test_udp_sendmsg_with_an_address_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, \
            pytest.raises(NetworkBlocked, match="192.0.2.1"):
        sock.sendmsg([b"x"], [], 0, OUTSIDE)


def test_udp_to_loopback_is_allowed():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        server.bind(("127.0.0.1", 0))
        client.sendto(b"ping", ("127.1", server.getsockname()[1]))
        server.settimeout(2)
        assert server.recvfrom(16)[0] == b"ping"


@pytest.mark.parametrize("lookup,argument", [
    (socket.gethostbyname, "huggingface.co"),
    (socket.gethostbyname_ex, "huggingface.co"),
    (socket.gethostbyaddr, "8.8.8.8"),
    (lambda target: socket.getnameinfo(target, 0), ("8.8.8.8", 53)),
])
def test_name_and_address_lookups_are_refused(lookup, argument):
    with pytest.raises(NetworkBlocked):
        lookup(argument)


def test_loopback_lookups_are_allowed():
    assert socket.gethostbyname("localhost").startswith("127.")
    socket.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)


def test_127_1_and_other_loopback_spellings_are_allowed():
    # the kernel completes the handshake from the listen backlog: no accept thread needed
    with socket.create_server(("127.0.0.1", 0)) as server:
        for host in ("127.1", "2130706433", "127.0.0.1"):
            with socket.create_connection((host, server.getsockname()[1]), timeout=2):
                pass


@pytest.mark.parametrize("host,expected", [
    ("127.1", True), ("127.0.0.0", True), ("127.255.255.254", True), ("2130706433", True),
    ("0x7f.1", True), ("::1", True), ("[::1]", True), ("::ffff:127.0.0.1", True),
    ("localhost", True), ("LocalHost.", True), ("ip6-localhost", True),
    ("1.1", False), ("::ffff:8.8.8.8", False), ("0.0.0.0", False), ("::", False),
    ("face.bad", False), ("localhost.example.com", False),
])
def test_every_loopback_spelling(host, expected):
    assert is_loopback(host) is expected


def test_a_subprocess_child_is_guarded():
    assert os.environ["FTP_OFFLINE_GUARD"] == "1"
    assert CHILD_GUARD_DIR in os.environ["PYTHONPATH"].split(os.pathsep)
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.startswith("NetworkBlocked"), done.stdout + done.stderr


def _probe_in_child() -> str:
    try:
        socket.create_connection(("192.0.2.1", 443), timeout=1)
        return "CONNECTED"
    except Exception as error:  # the child reports what stopped it
        return type(error).__name__


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_multiprocessing_child_is_guarded(method):
    with multiprocessing.get_context(method).Pool(1) as pool:
        assert pool.apply(_probe_in_child) == "NetworkBlocked"


def test_the_python_api_turns_the_guard_on():
    env = online_env()  # a fresh interpreter that inherits no guard...
    assert "FTP_OFFLINE_GUARD" not in env
    check = "import sys\nprint('ftp.offline' in sys.modules)"
    unguarded = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                               env=env, timeout=60)
    assert unguarded.stdout.split() == ["False"], unguarded.stderr
    guarded = subprocess.run([sys.executable, "-c", "import ftp\n" + PROBE],
                             capture_output=True, text=True, env=env, timeout=60)
    assert guarded.stdout.startswith("NetworkBlocked"), guarded.stderr  # ...until import ftp


def test_the_child_guard_runs_the_sitecustomize_it_shadows(tmp_path):
    (tmp_path / "sitecustomize.py").write_text("import os\nos.environ['USER_SITE_RAN'] = '1'\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([CHILD_GUARD_DIR, str(tmp_path)])}
    done = subprocess.run([sys.executable, "-c", "import os, sys\n"
                           "print(os.environ.get('USER_SITE_RAN'), 'ftp.offline' in sys.modules)"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.split() == ["1", "True"], done.stderr
