"""Offline mode: environment variables and a guard that refuses non-loopback connections.

The variables must be set before transformers, datasets, huggingface_hub or presidio are
imported, because those libraries read them at import time. The guard is an audit hook
(PEP 578): it sees every `socket.connect` and `socket.getaddrinfo` in the process, including
those made by libraries, and raises before a packet leaves the machine.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import traceback

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

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


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
    """True for loopback addresses and names, and for local (AF_UNIX) sockets."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return False


def _host_of(event: str, args: tuple) -> object:
    if event == "socket.getaddrinfo":
        return args[0]
    address = args[1]
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return None
    return address[0] if isinstance(address, tuple) and address else address


def _caller() -> str:
    """The innermost frame outside the standard library and this module."""
    for frame in reversed(traceback.extract_stack()):
        if not frame.filename.endswith(("/socket.py", "/ftp/offline.py", "/core/offline.py")):
            return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return "unknown caller"


def _audit(event: str, args: tuple) -> None:
    if not _GuardState.enabled or event not in ("socket.connect", "socket.getaddrinfo"):
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
    """Install the audit hook once per process and switch it on."""
    if not _GuardState.installed:
        sys.addaudithook(_audit)
        _GuardState.installed = True
    _GuardState.enabled = True


def guard_enabled() -> bool:
    return _GuardState.enabled


def blocked_attempts() -> list[tuple[str, str]]:
    """(host, caller) of every refused connection so far in this process."""
    return list(_GuardState.attempts)


def go_offline() -> None:
    """Everything the CLI does before its first heavy import."""
    set_offline_env()
    install_guard()
