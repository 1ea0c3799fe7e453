"""`ftp chat RUN|MODEL`: a streaming, scrubbed conversation with a model."""

from __future__ import annotations

import sys
from typing import Any

import click

from ftp import hookimpl
from ftp.api import Project
from ftp.progress import info

EXIT_WORDS = ("/exit", "/quit", "exit", "quit")


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(chat)


def output_scrubber(project: Project) -> Any:
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
    from ftp.plugins.generation.decoding import stream_reply
    from ftp.plugins.generation.models import load_for_inference
    from ftp.project import Project

    project = Project.find_optional()
    loaded, tokenizer = load_for_inference(model, project)
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
