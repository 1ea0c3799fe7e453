"""Streaming readers and an all-or-nothing writer for `ftp scrub`.

Lines are read as bytes with a length limit and decoded strictly, so a non-UTF-8 byte or a
runaway single line is reported with file, line and byte offset before anything is kept,
and a multi-GB file is read in constant memory. Output goes to a temporary file beside the
target and is renamed into place only when everything succeeded.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ftp.errors import InputError, UserError

MAX_LINE_BYTES = 1_000_000
FORMATS = ("jsonl", "csv", "tsv", "text")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}


def detect_format(path: Path) -> str:
    return _SUFFIXES.get(path.suffix.lower(), "text")


def lines(path: Path, max_line_bytes: int = MAX_LINE_BYTES,
          keep_newlines: bool = False) -> Iterator[tuple[int, str]]:
    """(line number, decoded line); raises InputError naming the file and position."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError("the file is empty", path=str(path))
    offset = 0
    with path.open("rb") as handle:
        number = 0
        while raw := handle.readline(max_line_bytes + 1):
            number += 1
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                raise InputError(
                    f"line longer than {max_line_bytes:,} bytes (starts at byte {offset:,})",
                    path=str(path), line=number,
                    hint="split the text into records of at most 1 MB")
            text = _decode(raw, path, number, offset)
            yield number, text if keep_newlines else text.rstrip("\r\n")
            offset += len(raw)


def _decode(raw: bytes, path: Path, number: int, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = raw[error.start]
        raise InputError(
            f"not UTF-8: byte 0x{bad:02x} at column {error.start + 1} "
            f"(byte offset {offset + error.start:,})",
            path=str(path), line=number, hint="convert the file to UTF-8 first (iconv)",
        ) from None


def read_records(path: Path, fmt: str) -> Iterator[dict[str, Any]]:
    """Records of a JSONL, CSV/TSV or text file (one ``{"text": line}`` per line)."""
    if fmt == "jsonl":
        yield from _jsonl(path)
    elif fmt in ("csv", "tsv"):
        yield from _csv(path, "\t" if fmt == "tsv" else ",")
    else:
        for _, line in lines(path):
            yield {"text": line}


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    for number, line in lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"invalid JSON at column {error.colno}: {error.msg}",
                             path=str(path), line=number) from None
        if not isinstance(record, dict):
            raise InputError(f"expected a JSON object, got {type(record).__name__}",
                             path=str(path), line=number)
        yield record


def _csv(path: Path, delimiter: str) -> Iterator[dict[str, Any]]:
    reader = csv.reader((line for _, line in lines(path, keep_newlines=True)), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise InputError("no header row", path=str(path), line=1)
    for row in reader:
        if len(row) != len(header):
            raise InputError(f"{len(row)} fields, the header has {len(header)}",
                             path=str(path), line=reader.line_num)
        yield dict(zip(header, row, strict=True))


class RecordWriter:
    """Writes records in the input's format to an open text handle."""

    def __init__(self, handle: IO[str], fmt: str) -> None:
        self.handle, self.fmt = handle, fmt
        self._csv: csv.DictWriter | None = None

    def write(self, record: dict[str, Any]) -> None:
        if self.fmt == "jsonl":
            self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif self.fmt in ("csv", "tsv"):
            if self._csv is None:
                self._csv = csv.DictWriter(self.handle, fieldnames=list(record),
                                           delimiter="\t" if self.fmt == "tsv" else ",")
                self._csv.writeheader()
            self._csv.writerow(record)
        else:
            self.handle.write(record["text"] + "\n")


@contextmanager
def atomic_output(path: Path) -> Iterator[IO[str]]:
    """A text handle whose content appears at ``path`` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    with atomic_output(path) as handle:
        json.dump(value, handle, indent=2, sort_keys=True)
        handle.write("\n")
