"""The body of `ftp bench serve`: targets (endpoints, or runs/models served for the
measurement), prompts (the project's test split, else a fixed set), the stored run."""

from __future__ import annotations

from typing import Any

from ftp.api import Project
from ftp.errors import UserError
from ftp.output import echo_json, echo_table
from ftp.paths import ftp_home
from ftp.progress import info

FIXED_PROMPTS = [
    "Summarise in one sentence: the router stopped working after the update.",
    "Classify this ticket as billing, technical or other: I was charged twice.",
    "Write a short reply thanking a customer for their feedback.",
    "Answer yes or no: is a refund possible after thirty days?",
]
COLUMNS = ("model", "concurrency", "requests", "ttft_p50_ms", "ttft_p95_ms", "itl_p50_ms",
           "itl_p95_ms", "itl_p99_ms", "requests_per_s", "tokens_per_s", "cost_per_m_tokens")


def levels(text: str) -> list[int]:
    try:
        found = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        found = []
    if not found or any(not 1 <= n <= 256 for n in found):
        raise UserError(f"--concurrency must be comma-separated whole numbers from 1 to 256, "
                        f"not {text!r}")
    return found


def check_bounds(count: int, max_seconds: float, max_tokens: int) -> None:
    if not 1 <= count <= 10000:
        raise UserError(f"--requests must be between 1 and 10000, not {count}")
    if not 0 < max_seconds <= 3600:
        raise UserError(f"--max-seconds must be above 0 and at most 3600, not {max_seconds}")
    if not 2 <= max_tokens <= 4096:
        raise UserError(f"--max-tokens must be between 2 and 4096, not {max_tokens}")


def prompts(project: Project) -> list[list[dict[str, Any]]]:
    """The test split's conversations (what the model will be asked), else a fixed set."""
    if project is not None:
        from ftp.errors import NotFound
        from ftp.plugins.data.api import load_records, to_messages

        try:
            records = load_records(project, split="test")
        except NotFound:
            records = []
        if records:
            return [to_messages(r)[:-1] for r in records[:64]]
    return [[{"role": "user", "content": text}] for text in FIXED_PROMPTS]


def run_bench_serve(target: str, *, model_name: str | None, api_key: str | None,
                    concurrency: str, count: int, max_seconds: float, max_tokens: int,
                    price_per_hour: float | None, compare: list[str], engine: str,
                    as_json: bool) -> None:
    from ftp.plugins.serving import engine as engines
    from ftp.plugins.serving.endpoint_eval import is_endpoint
    from ftp.plugins.serving.loadgen import check_loopback
    from ftp.project import Project

    wanted = levels(concurrency)
    check_bounds(count, max_seconds, max_tokens)
    if price_per_hour is not None and price_per_hour < 0:
        raise UserError("--price-per-hour must be 0 or more")
    targets = [target, *compare]
    for ref in targets:  # every bad target is refused before anything runs or is stored
        if is_endpoint(ref):
            check_loopback(ref)
        else:
            engines.check_engine(engine)
    project = Project.find_optional()
    asked = prompts(project)
    settings = {"concurrency": wanted, "requests": count, "max_seconds": max_seconds,
                "max_tokens": max_tokens, "price_per_hour": price_per_hour, "engine": engine,
                "prompts": len(asked)}
    measure = _measurer(project, asked, settings, model_name, api_key, engine)
    if project is None:
        rows = [row for ref in targets for row in measure(ref)]
    else:
        rows = _stored(project, target, targets, settings, measure)
    if as_json:
        return echo_json(rows)
    echo_table(rows, COLUMNS if price_per_hour is not None else COLUMNS[:-1])


def _stored(project: Project, target: str, targets: list[str], settings: dict[str, Any],
            measure: Any) -> list[dict[str, Any]]:
    from ftp.plugins.models.loading import find_train_run
    from ftp.plugins.serving.endpoint_eval import is_endpoint

    parent = None if is_endpoint(target) else find_train_run(project, target)
    with project.run("bench-serve", model=target, config={**settings, "targets": targets},
                     parent_id=parent.id if parent else None) as run:
        rows = [row for ref in targets for row in measure(ref)]
        run.summary["serving"] = rows
    info(f"bench-serve run {run.id}")
    return rows


def _measurer(project: Project, asked: list[list[dict[str, Any]]], settings: dict[str, Any],
              model_name: str | None, api_key: str | None, engine: str) -> Any:
    from ftp.plugins.serving.endpoint_eval import connect, is_endpoint
    from ftp.plugins.serving.loadgen import measure

    def run_levels(url: str, name: str, key: str | None) -> list[dict[str, Any]]:
        return measure(url, name, asked, concurrency=settings["concurrency"],
                       requests=settings["requests"], max_seconds=settings["max_seconds"],
                       max_tokens=settings["max_tokens"], api_key=key,
                       price_per_hour=settings["price_per_hour"])

    def one(ref: str) -> list[dict[str, Any]]:
        if is_endpoint(ref):
            _, name = connect(ref, model_name, api_key)
            rows = run_levels(ref, name, api_key)
        else:
            rows = _served(project, ref, engine, run_levels)
        return [{"model": ref, **row} for row in rows]

    return one


def _served(project: Project, ref: str, engine: str, run_levels: Any) -> list[dict[str, Any]]:
    """Serve ``ref`` on a free loopback port for the measurement, then stop it."""
    from ftp.plugins.serving import engine as engines
    from ftp.plugins.serving.serve import served_folder

    folder = served_folder(project, ref)
    logs = (project.root / ".ftp" / "serve") if project else ftp_home() / "serve"
    info(f"{ref}: starting {engine} serve")
    started = engines.start(engine, folder, "127.0.0.1", engines.free_port(),
                            logs / "bench-engine.log")
    try:
        return run_levels(started.base_url, started.model_name, None)
    finally:
        engines.stop(started)
