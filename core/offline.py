"""Offline mode: environment variables and a guard that refuses non-loopback connections.

The variables must be set before transformers, datasets, huggingface_hub or presidio are
imported, because those libraries read them at import time. The guard is an audit hook
(PEP 578): it sees every socket operation Python raises an audit event for (connect, sendto
and sendmsg with an address, bind is left alone, and every name or address lookup:
getaddrinfo, gethostbyname, gethostbyaddr, getnameinfo) in the process, including those
made by libraries, and raises before a packet or a DNS query leaves the machine.

It follows the process into its children: ``install_guard`` sets ``FTP_OFFLINE_GUARD=1``
and puts ftp's ``child_guard`` folder on ``PYTHONPATH``, whose ``sitecustomize`` turns the
guard on first thing in every Python child (subprocess, multiprocessing spawn or
forkserver, torchrun workers) and then runs the ``sitecustomize`` it shadows.

What it cannot see: sockets opened in C or another language (a C extension's own
networking, a non-Python child, a child started with ``python -I``/``-E``/``-S``). For those,
run in a network namespace with no network at all: ``unshare -n ftp ...`` (the test suite
does, where the machine allows it).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import traceback
from pathlib import Path

from ftp.errors import NetworkBlocked

OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
    "DO_NOT_TRACK": "1",
    "WANDB_DISABLED": "true",
    "WANDB_MODE": "disabled",
    "DISABLE_MLFLOW_INTEGRATION": "TRUE",
    "TOKENIZERS_PARALLELISM": "false",
}

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}
# Events whose arguments carry an address (the socket first) or a host name to resolve.
_ADDRESS_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
_LOOKUP_EVENTS = frozenset({"socket.getaddrinfo", "socket.gethostbyname",
                            "socket.gethostbyaddr", "socket.getnameinfo"})
GUARD_ENV = "FTP_OFFLINE_GUARD"
CHILD_GUARD_DIR = str(Path(__file__).resolve().parent / "child_guard")


class _GuardState:
    installed = False
    enabled = False
    attempts: list[tuple[str, str]] = []


def set_offline_env() -> None:
    """Set the offline variables (a user's explicit value wins, except telemetry)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["DO_NOT_TRACK"] = "1"


def is_loopback(host: object) -> bool:
    """True for loopback addresses in every spelling (127.1, 127.0.0.0/8, ::1,
    ::ffff:127.0.0.1, 0x7f.1) and loopback names, and for local (AF_UNIX) sockets."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").lower().rstrip(".")
    if name in _LOOPBACK_NAMES:
        return True
    name = name.split("%")[0]
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return _ipv4_shorthand_is_loopback(name)
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def _ipv4_shorthand_is_loopback(name: str) -> bool:
    """``127.1``, ``2130706433``, ``0x7f.0.0.1``: what inet_aton (and so connect) accepts."""
    if not name or not all(c in "0123456789abcdefx." for c in name):
        return False
    try:
        return socket.inet_aton(name)[0] == 127
    except OSError:
        return False


def _host_of(event: str, args: tuple) -> object:
    """The host an event would reach or resolve; None when it reaches nothing outside."""
    if event in _LOOKUP_EVENTS:
        target = args[0]
        if event == "socket.getnameinfo":  # (sockaddr, flags)
            return target[0] if isinstance(target, tuple) and target else target
        return target
    sock, address = args[0], args[1]
    if address is None or getattr(sock, "family", None) not in (socket.AF_INET,
                                                                  socket.AF_INET6):
        return None  # a connected socket's send, AF_UNIX, netlink...
    return address[0] if isinstance(address, tuple) and address else address


def _caller() -> str:
    """The innermost frame outside the standard library and this module."""
    for frame in reversed(traceback.extract_stack()):
        if not frame.filename.endswith(("/socket.py", "/ftp/offline.py", "/core/offline.py")):
            return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return "unknown caller"


def _audit(event: str, args: tuple) -> None:
    if not _GuardState.enabled or not (event in _ADDRESS_EVENTS or event in _LOOKUP_EVENTS):
        return
    host = _host_of(event, args)
    if is_loopback(host):
        return
    caller = _caller()
    _GuardState.attempts.append((str(host), caller))
    raise NetworkBlocked(
        f"ftp is offline: refused a connection to {host!r} from {caller}",
        hint="ftp never downloads at run time; use local model folders and data files",
    )


def install_guard() -> None:
    """Install the audit hook once per process, switch it on, and have every Python child
    process turn it on too (``FTP_OFFLINE_GUARD`` and the child guard on ``PYTHONPATH``)."""
    if not _GuardState.installed:
        sys.addaudithook(_audit)
        _GuardState.installed = True
    _GuardState.enabled = True
    os.environ[GUARD_ENV] = "1"
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if CHILD_GUARD_DIR not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([CHILD_GUARD_DIR, *filter(None, paths)])


def online_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) for a child that is meant to use the network (pip
    in `ftp install` and `ftp models pull`): no guard in it."""
    env = dict(os.environ if env is None else env)
    env.pop(GUARD_ENV, None)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p != CHILD_GUARD_DIR]
    if any(paths):
        env["PYTHONPATH"] = os.pathsep.join(paths)
    else:
        env.pop("PYTHONPATH", None)
    return env


def guard_enabled() -> bool:
    return _GuardState.enabled


def blocked_attempts() -> list[tuple[str, str]]:
    """(host, caller) of every refused connection so far in this process."""
    return list(_GuardState.attempts)


def go_offline() -> None:
    """Everything the CLI does before its first heavy import."""
    set_offline_env()
    install_guard()
