"""The data pipeline's public API, for training, evaluation and the app.

::

    from ftp.plugins.data.api import (resolve_dataset, load_records, encode_records,
                                      prompt_and_reference, import_dataset)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftp.api import Project, Tokenizer
from ftp.errors import UserError
from ftp.plugins.data.catalog import list_datasets, load_records, resolve_dataset
from ftp.plugins.data.formats import format_of
from ftp.plugins.data.formatters import get_formatter, render_chat, to_messages
from ftp.plugins.data.importer import MAX_FIELD_CHARS, MAX_LINE_BYTES, import_records
from ftp.plugins.data.sources import open_source
from ftp.plugins.data.tokenize import EncodedData, encode_records

__all__ = ["EncodedData", "encode_records", "import_dataset", "list_datasets",
           "load_records", "prompt_and_reference", "resolve_dataset"]


def import_dataset(project: Project, source: str | Path, *, name: str | None = None,
                   fmt: str = "auto", mapping: Any = None, on_error: str = "fail",
                   source_kind: str | None = None, max_field_chars: int | None = None,
                   **reader_options: Any) -> dict[str, Any]:
    """Import a file, folder or SQLite table as a new dataset version; returns its row.

    ``reader_options`` go to the source reader (``table=``/``query=`` for SQLite,
    ``delimiter=`` for CSV, ``max_line_bytes=`` for line-based files). A line over
    ``max_line_bytes`` or a text field over ``max_field_chars`` is bad input (defaults in
    ``importer.MAX_LINE_BYTES`` / ``MAX_FIELD_CHARS``).
    """
    path = Path(source).expanduser()
    caps = {"max_field_chars": max_field_chars or MAX_FIELD_CHARS}
    reader_options["max_line_bytes"] = reader_options.get("max_line_bytes") or MAX_LINE_BYTES
    pairs = open_source(path, source_kind, **reader_options)
    return import_records(project, pairs, source=str(path), name=name or _default_name(path),
                          fmt=fmt or "auto", mapping=mapping, on_error=on_error,
                          config={"source_kind": source_kind, **reader_options, **caps})


def _default_name(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def prompt_and_reference(record: dict[str, Any], tokenizer: Tokenizer,
                         template: Any = "chat_template") -> tuple[str, str]:
    """The generation prompt (ending where the model starts answering) and the reference."""
    if record.get("format") == "text":
        raise UserError("a text record has no prompt and reference to evaluate on")
    reference = format_of(record).response(record)
    if template == "chat_template":
        messages = to_messages(record)[:-1]
        return render_chat(tokenizer, messages, add_generation_prompt=True), reference
    prompt, _ = get_formatter(template)(record, tokenizer)
    return prompt, reference
