"""`ftp bench latency RUN|MODEL ...`: in-process decoding speed and cost per million tokens."""

from __future__ import annotations

import click

from ftp import hookimpl
from ftp.cli import subgroup
from ftp.output import echo_json, echo_table
from ftp.progress import info


@hookimpl
def register_commands(cli: click.Group) -> None:
    subgroup(cli, "bench", "Benchmarks: import their data, measure speed.").add_command(latency)


@click.command()
@click.argument("models", nargs=-1, required=True)
@click.option("--price-per-hour", type=float, default=None,
              help="Hardware price per hour, for the cost per million tokens.")
@click.option("--new-tokens", type=int, default=32, show_default=True)
@click.option("--batch", type=int, default=8, show_default=True,
              help="Batch size of the throughput measurement.")
@click.option("--repeats", type=int, default=3, show_default=True)
@click.option("--strategy", type=click.Choice(["auto", "plain", "static", "compiled", "loop"]),
              default="auto", show_default=True,
              help="Decoder: auto picks the fastest measured for the device.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def latency(models: tuple[str, ...], price_per_hour: float | None, new_tokens: int, batch: int,
            repeats: int, strategy: str, as_json: bool) -> None:
    """Time to first token, ms/token (batch 1), throughput (batch N) and cost per million
    tokens of each MODEL (train runs or models), e.g. base vs fine-tuned."""
    from ftp.errors import UserError
    from ftp.plugins.generation.decoding import best_strategy
    from ftp.plugins.generation.latency import measure
    from ftp.plugins.generation.models import load_for_inference
    from ftp.project import Project

    if new_tokens < 2 or batch < 1 or repeats < 1:
        raise UserError("--new-tokens must be at least 2, --batch and --repeats at least 1")
    project, rows = Project.find_optional(), []
    for ref in models:
        model, tokenizer = load_for_inference(ref, project)
        chosen = best_strategy(str(next(model.parameters()).device)) if strategy == "auto" \
            else strategy
        info(f"{ref}: measuring ({chosen})")
        rows.append({"model": ref, **measure(model, tokenizer, strategy=chosen,
                                             new_tokens=new_tokens, batch=batch,
                                             repeats=repeats, price_per_hour=price_per_hour)})
        del model
    if as_json:
        return echo_json(rows)
    columns = ["model", "strategy", "ttft_ms", "ms_per_token", "tokens_per_s_batch1",
               f"tokens_per_s_batch{batch}"]
    if price_per_hour is not None:
        columns += ["cost_per_m_tokens_batch1", f"cost_per_m_tokens_batch{batch}"]
    echo_table(rows, columns)
