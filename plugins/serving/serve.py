"""`ftp serve`: what is served (a merged export), the engine, the optional proxy, Ctrl-C.

A train run is merged once into ``<run artifacts>/merged`` (the same folder `ftp export
--merged` writes), so what the engine loads is exactly what a deployment would load.
"""

from __future__ import annotations

import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ftp.api import Project
from ftp.errors import UserError
from ftp.progress import info

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServeOptions:
    engine: str = "transformers"
    host: str = LOOPBACK
    port: int = 8000
    api_key: str | None = None
    scrub_outputs: bool = False
    log_requests: bool = False
    continuous_batching: bool = False  # transformers serve's own; 1.3-3x tokens/s on CPU


def served_folder(project: Project, ref: str) -> Path:
    """The model folder an engine loads for ``ref``: a train run merged (once), else the
    model's own folder."""
    from ftp.plugins.models import resolve_model
    from ftp.plugins.models.loading import find_train_run

    run = find_train_run(project, ref)
    if run is None:
        return resolve_model(ref)
    target = Path(run.artifacts_path) / "merged"
    if (target / "config.json").is_file():
        return target
    from ftp.plugins.training.export import merged_model

    info(f"Merging run {run.id} into {target} (once)")
    model, tokenizer = merged_model(project, str(run.id))
    partial = Path(tempfile.mkdtemp(prefix=".merged-", dir=run.artifacts_path))
    model.save_pretrained(str(partial))
    tokenizer.save_pretrained(str(partial))
    partial.rename(target)
    return target


def needs_proxy(options: ServeOptions) -> bool:
    """transformers serve has no API key of its own and logs no request bodies, and no
    engine scrubs outputs."""
    transformers = options.engine == "transformers"
    return options.scrub_outputs or (transformers and (bool(options.api_key)
                                                       or options.log_requests))


def serve(project: Project, ref: str, options: ServeOptions, log_dir: Path) -> None:
    """Start the engine (and the proxy), print the URL, run until Ctrl-C or SIGTERM."""
    from ftp.plugins.serving import engine as engines

    engines.check_engine(options.engine)
    engines.check_bind(options.host, options.api_key)
    engines.check_port(options.host, options.port)
    folder = served_folder(project, ref)
    proxied = needs_proxy(options)
    host, port = (LOOPBACK, engines.free_port()) if proxied else (options.host, options.port)
    key = options.api_key if options.engine == "vllm" else None
    # Ctrl-C and SIGTERM end the wait below (a shell's background job inherits SIGINT
    # ignored; the engine must still be stopped)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    extra = ("--continuous-batching",) if options.continuous_batching else ()
    engine = engines.start(options.engine, folder, host, port, log_dir / "engine.log",
                           log_requests=options.log_requests, api_key=key, extra=extra)
    try:
        url = f"http://{_shown(options.host)}:{options.port}/v1"
        click.echo(f"serving {ref} on {options.engine} at {url} (model name: {folder}); "
                   "Ctrl-C stops it")
        info(f"engine log: {engine.log_path}")
        if proxied:
            _run_proxy(project, options, engine)
        else:
            engine.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        engines.stop(engine)
        info("stopped")
    if engine.process.returncode not in (0, -signal.SIGINT, -signal.SIGTERM, -signal.SIGKILL):
        info(f"the engine exited with status {engine.process.returncode}; see its log")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _run_proxy(project: Project, options: ServeOptions, engine: Any) -> None:
    import uvicorn

    from ftp.plugins.serving.proxy import build_app

    scrubber = _scrubber(project) if options.scrub_outputs else None
    app = build_app(f"http://{engine.host}:{engine.port}", api_key=options.api_key,
                    scrubber=scrubber, log_requests=options.log_requests,
                    upstream_key=None)
    config = uvicorn.Config(app, host=options.host, port=options.port, log_level="warning",
                            access_log=options.log_requests, lifespan="on")
    uvicorn.Server(config).run()


def _scrubber(project: Project) -> Any:
    from ftp.privacy import build_scrubber

    scrubber = build_scrubber(project.config.get("privacy") if project else None)
    scrubber.scrub_text("warm up")  # loads the NER model before the first request waits
    return scrubber


def check_options(host: str, port: int, engine: str = "transformers",
                  continuous_batching: bool = False) -> None:
    if continuous_batching and engine != "transformers":
        raise UserError("--continuous-batching is transformers serve's; vLLM batches anyway")
    if not 1 <= port <= 65535:
        raise UserError(f"--port must be between 1 and 65535, not {port}")
    if not host:
        raise UserError("--host must not be empty")
