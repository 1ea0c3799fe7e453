"""A third-party ftp plugin, installed by pip in CI and found through its entry point.

It adds an error category (answers written in capitals) and a command that uses it.
"""

import click

import ftp


def shouting(sample: dict) -> str | None:
    letters = [c for c in sample.get("output") or "" if c.isalpha()]
    if len(letters) >= 8 and all(c.isupper() for c in letters):
        return "the whole answer is in capitals"
    return None


@ftp.hookimpl
def register_error_categorizers(register):
    register("shouting", shouting, description="answers written entirely in capitals")


@ftp.hookimpl
def register_commands(cli):
    @cli.command(name="shouting-check")
    @click.argument("text")
    def shouting_check(text: str) -> None:
        """Say whether TEXT would be categorised as shouting."""
        click.echo("shouting" if shouting({"output": text}) else "calm")
