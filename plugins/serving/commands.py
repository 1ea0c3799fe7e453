"""`ftp serve RUN|MODEL` and `ftp bench serve URL|RUN`: serving on an existing engine."""

from __future__ import annotations

import click

from ftp import hookimpl
from ftp.api import RegisterSettings
from ftp.cli import subgroup
from ftp.paths import ftp_home


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(serve_command)
    subgroup(cli, "bench", "Benchmarks: import their data, measure speed.").add_command(
        bench_serve)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    from ftp.plugins.serving.sections import DEPLOY

    register("deploy", DEPLOY, help="The deployment check at the end of `ftp run`.")


@click.command("serve")
@click.argument("model")
@click.option("--engine", default="transformers", show_default=True,
              help="transformers (transformers serve, CPU or GPU) or vllm (where installed).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Listen address; beyond loopback, --api-key is required.")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--api-key", help="Clients must send it as `Authorization: Bearer KEY`.")
@click.option("--scrub-outputs", is_flag=True,
              help="Scrub replies with the project's privacy policy before they leave.")
@click.option("--log-requests", is_flag=True, help="Log request bodies (off: they may hold PII).")
@click.option("--continuous-batching", is_flag=True,
              help="transformers serve batches the requests in flight (benchmarks/serve.py: "
                   "1.3-3x the tokens/s on CPU); check its outputs with a parity gate.")
def serve_command(model: str, engine: str, host: str, port: int, api_key: str | None,
                  scrub_outputs: bool, log_requests: bool, continuous_batching: bool) -> None:
    """Serve MODEL (a train run, merged first, or a model) on an OpenAI-compatible engine.

    Prints the URL (http://HOST:PORT/v1); Ctrl-C stops the engine and its workers."""
    from ftp.plugins.serving.serve import ServeOptions, check_options, serve
    from ftp.project import Project

    check_options(host, port, engine, continuous_batching)
    project = Project.find_optional()
    options = ServeOptions(engine, host, port, api_key, scrub_outputs, log_requests,
                           continuous_batching)
    log_dir = (project.root / ".ftp" / "serve") if project else ftp_home() / "serve"
    serve(project, model, options, log_dir)


@click.command("serve")
@click.argument("target")
@click.option("--model-name", help="The model name the server knows (default: its first).")
@click.option("--api-key", help="Bearer key for the server.")
@click.option("--concurrency", default="1,4,16", show_default=True,
              help="Comma-separated numbers of requests in flight.")
@click.option("--requests", "count", type=int, default=32, show_default=True,
              help="Requests per concurrency level (at least the concurrency).")
@click.option("--max-seconds", type=float, default=60.0, show_default=True,
              help="Stop a level after this long (bounded load).")
@click.option("--max-tokens", type=int, default=64, show_default=True,
              help="Tokens generated per request.")
@click.option("--price-per-hour", type=float, help="Hardware price per hour: cost per million "
              "generated tokens.")
@click.option("--compare", multiple=True, help="Also serve and measure this model (RUN or "
              "MODEL; repeatable), e.g. the base.")
@click.option("--engine", default="transformers", show_default=True,
              help="Engine for a RUN or MODEL target.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_serve(target: str, model_name: str | None, api_key: str | None, concurrency: str,
                count: int, max_seconds: float, max_tokens: int, price_per_hour: float | None,
                compare: tuple[str, ...], engine: str, as_json: bool) -> None:
    """Latency and cost under load of a served model: TARGET is an endpoint
    (http://127.0.0.1:PORT/v1, loopback only) or a RUN/MODEL served for the measurement.

    Streams requests from a bounded load generator: time to first token, inter-token latency
    p50/p95/p99, requests/s, generated tokens/s and cost per million tokens per concurrency;
    stored as a bench-serve run that `ftp report` shows."""
    from ftp.plugins.serving.bench_cli import run_bench_serve

    run_bench_serve(target, model_name=model_name, api_key=api_key, concurrency=concurrency,
                    count=count, max_seconds=max_seconds, max_tokens=max_tokens,
                    price_per_hour=price_per_hour, compare=list(compare), engine=engine,
                    as_json=as_json)
