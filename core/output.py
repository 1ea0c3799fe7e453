"""Plain-text tables and JSON for command output (stdout)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click


def format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(item) for item in value)
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A left-aligned text table with a header row."""
    cells = [[format_value(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column)] + [len(line[i]) for line in cells])
              for i, column in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
              for line in cells]
    return "\n".join(lines)


def echo_table(rows: Sequence[dict[str, Any]], columns: Sequence[str],
               empty: str = "Nothing to show.") -> None:
    click.echo(table(rows, columns) if rows else empty)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))
