"""`ftp scrub`'s input and output: the data pipeline's streaming readers, an all-or-nothing
writer.

Records are read by ``ftp.plugins.data.sources`` (the readers ``ftp data import`` uses), with
a line-length limit: lines are read as bytes no further than the limit and decoded strictly,
so a non-UTF-8 byte or a runaway single line is reported with file, line and byte offset
before anything is kept, and a multi-GB file is read in constant memory. Output goes to a
temporary file beside the target and is renamed into place only when everything succeeded.
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
from ftp.plugins.data.sources import read_csv, read_jsonl, read_lines

MAX_LINE_BYTES = 1_000_000
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}


def detect_format(path: Path) -> str:
    return _SUFFIXES.get(path.suffix.lower(), "text")


def lines(path: Path, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str]]:
    """(line number, decoded line without its newline); errors name the file and position."""
    _check_file(path)
    for number, line in read_lines(path, max_line_bytes):
        yield number, line.rstrip("\r\n")


def read_records(path: Path, fmt: str) -> Iterator[dict[str, Any]]:
    """Records of a JSONL, CSV/TSV or text file (one ``{"text": line}`` per line)."""
    if fmt == "text":
        yield from ({"text": line} for _, line in lines(path))
        return
    _check_file(path)
    if fmt == "jsonl":
        located = read_jsonl(path, max_line_bytes=MAX_LINE_BYTES)
    else:
        located = read_csv(path, delimiter="\t" if fmt == "tsv" else ",",
                           max_line_bytes=MAX_LINE_BYTES)
    for _, record in located:
        yield record


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError("the file is empty", path=str(path))


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
