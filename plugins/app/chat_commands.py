"""`ftp chat RUN|MODEL` and `ftp bench latency RUN|MODEL ...`."""

from __future__ import annotations

import sys
from typing import Any

import click

from ftp import hookimpl
from ftp.cli import subgroup
from ftp.output import echo_json, echo_table
from ftp.progress import info

EXIT_WORDS = ("/exit", "/quit", "exit", "quit")


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(chat)
    subgroup(cli, "bench", "Benchmarks: import their data, measure speed.").add_command(latency)


def _project():
    from ftp.errors import ProjectNotFound
    from ftp.project import Project

    try:
        return Project.find()
    except ProjectNotFound:
        return None


def load(ref: str, project) -> tuple[Any, Any]:
    """A model reference or a train run of the project, on the best device, in eval mode."""
    import torch

    from ftp.plugins.models import load_model

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model, tokenizer = load_model(ref, project, device="cuda" if torch.cuda.is_available()
                                  else None)
    return model.eval(), tokenizer


def output_scrubber(project) -> Any:
    """The project's scrubber when its privacy policy scrubs model outputs, else None."""
    if project is None or not project.config["privacy"].get("scrub_outputs", True):
        return None
    from ftp.privacy import build_scrubber

    return build_scrubber(project.config["privacy"])


@click.command()
@click.argument("model")
@click.option("--system", default=None, help="A system prompt.")
@click.option("--max-new-tokens", type=int, default=256, show_default=True)
@click.option("--no-scrub", is_flag=True, help="Show raw output even if the policy scrubs it.")
def chat(model: str, system: str | None, max_new_tokens: int, no_scrub: bool) -> None:
    """Chat in the terminal with MODEL (a train run, a model folder, an installed model).

    Replies stream token by token. When the project's privacy policy scrubs outputs
    ([privacy] scrub_outputs), each reply is scrubbed before it is shown, so it appears
    when complete. Type /exit or press Ctrl-D to leave.
    """
    from ftp.plugins.app.generation import stream_reply

    project = _project()
    loaded, tokenizer = load(model, project)
    scrubber = None if no_scrub else output_scrubber(project)
    messages = [{"role": "system", "content": system}] if system else []
    info(f"Chatting with {model}" + (" (replies scrubbed)" if scrubber else "")
         + ". /exit or Ctrl-D to leave.")
    interactive = sys.stdin.isatty()
    while True:
        try:
            text = click.prompt("you", prompt_suffix="> ") if interactive else _read_line()
        except (EOFError, click.Abort):
            break
        if text is None or text.strip() in EXIT_WORDS:
            break
        if not text.strip():
            continue
        messages.append({"role": "user", "content": text})
        reply = _show_reply(stream_reply(loaded, tokenizer, messages, max_new_tokens), scrubber)
        messages.append({"role": "assistant", "content": reply})


def _read_line() -> str | None:
    line = sys.stdin.readline()
    return None if line == "" else line.rstrip("\n")


def _show_reply(pieces, scrubber) -> str:
    click.echo("model> ", nl=False)
    if scrubber is None:
        chunks = []
        for piece in pieces:
            chunks.append(piece)
            click.echo(piece, nl=False)
        click.echo()
        return "".join(chunks)
    reply = scrubber.scrub_text("".join(pieces))
    click.echo(reply)
    return reply


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
    from ftp.plugins.app.generation import best_strategy
    from ftp.plugins.app.latency import measure

    if new_tokens < 2 or batch < 1 or repeats < 1:
        raise UserError("--new-tokens must be at least 2, --batch and --repeats at least 1")
    project, rows = _project(), []
    for ref in models:
        model, tokenizer = load(ref, project)
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
