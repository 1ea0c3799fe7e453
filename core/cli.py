"""The ``ftp`` command line: a click group whose commands come from plugins.

Kept light on purpose: ``ftp --help`` imports only click, pluggy and the command modules,
never torch or transformers. Typed ftp errors become one line and an exit status (2 for a
user's mistake, 1 for a failed check); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

import click

from ftp import __version__
from ftp.boundaries import store_busy
from ftp.errors import FtpError
from ftp.offline import go_offline
from ftp.progress import set_quiet


class FtpGroup(click.Group):
    """Turns ftp errors into clear messages and exit statuses."""

    def invoke(self, ctx: click.Context):
        try:
            with store_busy():  # a store another command keeps locked: one line, exit 2
                return super().invoke(ctx)
        except FtpError as error:
            if ctx.meta.get("ftp.debug"):
                raise
            click.echo(f"Error: {error.format()}", err=True)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=FtpGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftp")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or status lines.")
@click.option("--strict", is_flag=True, help="Fail when a plugin cannot be loaded.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool, strict: bool) -> None:
    """Evaluation-first fine-tuning of small language models, on your own machine."""
    ctx.meta["ftp.debug"] = debug
    set_quiet(quiet)


def build_cli(strict: bool = False) -> click.Group:
    """Register every plugin's commands on the group (once per process)."""
    from ftp.plugin_manager import get_plugin_manager

    if not getattr(cli, "_ftp_built", False):
        get_plugin_manager(strict=strict).hook.register_commands(cli=cli)
        cli._ftp_built = True  # type: ignore[attr-defined]
    return cli


def main(argv: list[str] | None = None) -> None:
    """Console entry point: go offline first, then load plugins and run."""
    go_offline()
    args = sys.argv[1:] if argv is None else argv
    if "--debug" not in args:
        quiet_library_noise()
    try:
        group = build_cli(strict="--strict" in args)
    except FtpError as error:
        click.echo(f"Error: {error.format()}", err=True)
        sys.exit(error.exit_code)
    group.main(args=args, prog_name="ftp")


def quiet_library_noise() -> None:
    """Hide what users cannot act on: the libraries' deprecation notices to each other (peft
    calling a transformers 5 name due to change in v6) and lm-eval's warnings about being
    handed a loaded model, which ftp does on purpose; and transformers' per-load weight bar
    (ftp shows its own progress). ``--debug`` shows them all."""
    import logging
    import os
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read when transformers loads

    for module in ("transformers", "peft", "lm_eval", "accelerate", "trl"):
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
    logging.getLogger("lm_eval").setLevel(logging.ERROR)


def subgroup(cli: click.Group, name: str, help_text: str) -> click.Group:
    """The command group ``name`` on ``cli``, created if no plugin has made it yet.

    Lets several plugins add subcommands to one group (``ftp bench import`` and
    ``ftp bench latency`` come from different plugins).
    """
    existing = cli.commands.get(name)
    if isinstance(existing, click.Group):
        return existing
    group = click.Group(name=name, help=help_text)
    cli.add_command(group)
    return group
