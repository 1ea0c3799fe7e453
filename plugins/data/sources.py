"""Readers of raw records: JSONL, JSON, CSV/TSV, Parquet, SQLite, text folders, HF datasets.

Each reader yields ``(location, record)``: ``location`` is the 1-based line or row (a file
name for text folders) used in error messages. Readers stream wherever the format allows,
so a large JSONL, CSV, Parquet or Arrow file is read in constant memory.
"""

from __future__ import annotations

import bz2
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ftp import hookimpl
from ftp.api import Register
from ftp.boundaries import reading
from ftp.errors import InputError, PluginError, UserError

Located = tuple[Any, dict[str, Any]]
TEXT_SUFFIXES = (".txt", ".md", ".rst")
HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
UTF8_BOM = b"\xef\xbb\xbf"


def read_lines(path: Path, max_line_bytes: int | None = None) -> Iterator[tuple[int, str]]:
    """Decoded lines (newlines kept), streamed; a clear error, naming the line and byte
    offset, for a file that is not UTF-8 and for a line over ``max_line_bytes`` (read no
    further than that, so a runaway line never fills memory). A ``.bz2`` file is read
    through bz2, streamed too (benchmark releases ship that way)."""
    limit = -1 if max_line_bytes is None else max_line_bytes + 1
    number, offset = 0, 0
    opener = bz2.open if path.suffix.lower() == ".bz2" else open
    with opener(path, "rb") as handle:
        while raw := handle.readline(limit):
            number += 1
            if limit > 0 and len(raw) == limit and not raw.endswith(b"\n"):
                raise InputError(
                    f"line longer than {max_line_bytes:,} bytes (starts at byte {offset:,})",
                    path=str(path), line=number,
                    hint="split the text into shorter records (`ftp data import` takes "
                         "--max-line-bytes N to raise the limit)")
            start, offset = offset, offset + len(raw)
            if number == 1:
                _check_bom(path, raw)
                if raw.startswith(UTF8_BOM):
                    raw, start = raw[len(UTF8_BOM):], start + len(UTF8_BOM)
            yield number, _decode(raw, path, number, start)


def _decode(raw: bytes, path: Path, number: int, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = raw[error.start:error.start + 1].hex()
        raise InputError(
            f"not UTF-8 text (byte 0x{bad} at column {error.start + 1}, "
            f"byte offset {offset + error.start:,})", path=str(path), line=number,
            hint="re-encode the file as UTF-8 (e.g. `iconv -t UTF-8`)",
        ) from None


def _check_bom(path: Path, first: bytes) -> None:
    if first.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("the file is UTF-16 encoded; ftp reads UTF-8", path=str(path),
                         line=1, hint="convert it with `iconv -f UTF-16 -t UTF-8`")


def read_jsonl(path: Path, *, max_line_bytes: int | None = None, **_: Any) -> Iterator[Located]:
    for number, line in read_lines(path, max_line_bytes):
        if not line.strip():
            continue
        with reading(path, number):  # too deep, too many digits: exit 2 at this line
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"malformed JSON: {error.msg} (column {error.colno})",
                                 path=str(path), line=number) from None
        if not isinstance(record, dict):
            raise InputError(f"expected a JSON object, got {type(record).__name__}",
                             path=str(path), line=number)
        yield number, record


def read_json(path: Path, **_: Any) -> Iterator[Located]:
    """A JSON array of objects; line numbers come from each object's position."""
    text = "".join(line for _, line in read_lines(path))
    decoder = json.JSONDecoder()
    position = _skip(text, 0)
    if position >= len(text) or text[position] != "[":
        if position < len(text) and text[position] == "{":
            yield from read_jsonl(path)  # a JSONL file with a .json name
            return
        raise InputError("expected a JSON array of records", path=str(path), line=1)
    position, line, counted = _skip(text, position + 1), 1, 0
    while position < len(text) and text[position] != "]":
        line, counted = line + text.count("\n", counted, position), position
        with reading(path, line):
            try:
                record, position = decoder.raw_decode(text, position)
            except json.JSONDecodeError as error:
                raise InputError(f"malformed JSON: {error.msg} (column {error.colno})",
                                 path=str(path), line=error.lineno) from None
        if not isinstance(record, dict):
            raise InputError(f"expected a JSON object, got {type(record).__name__}",
                             path=str(path), line=line)
        yield line, record
        position = _skip(text, position)
        if position < len(text) and text[position] == ",":
            position = _skip(text, position + 1)


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def read_csv(path: Path, *, delimiter: str | None = None, max_line_bytes: int | None = None,
             **_: Any) -> Iterator[Located]:
    delimiter = delimiter or ("\t" if path.suffix.lower() in (".tsv", ".tab") else ",")
    lines = (line for _, line in read_lines(path, max_line_bytes))
    reader = csv.DictReader(lines, delimiter=delimiter)
    try:
        for row in reader:
            if None in row:
                raise InputError(f"{len(row[None])} more value(s) than columns",
                                 path=str(path), line=reader.line_num)
            yield reader.line_num, {k: v for k, v in row.items() if v is not None}
    except csv.Error as error:
        raise InputError(f"malformed CSV: {error}", path=str(path),
                         line=reader.line_num) from None


def read_parquet(path: Path, **_: Any) -> Iterator[Located]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(str(path))
    except Exception as error:  # pyarrow raises several types for a bad file
        raise InputError(f"not a readable Parquet file ({error})", path=str(path)) from None
    row = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            row += 1
            yield row, record


def read_arrow(path: Path, **_: Any) -> Iterator[Located]:
    """An Arrow file as `datasets` saves it (IPC stream), or an Arrow IPC file."""
    import pyarrow as pa

    row = 0
    with pa.memory_map(str(path)) as source:
        try:
            reader = pa.ipc.open_stream(source)
        except pa.ArrowInvalid:
            reader = pa.ipc.open_file(source)
        batches = reader if hasattr(reader, "__iter__") else (
            reader.get_batch(i) for i in range(reader.num_record_batches))
        for batch in batches:
            for record in batch.to_pylist():
                row += 1
                yield row, record


def read_sqlite(path: Path, *, table: str | None = None, query: str | None = None,
                **_: Any) -> Iterator[Located]:
    import sqlite3

    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        sql = query or f"select * from [{table or _only_table(connection, path)}]"
        try:
            cursor = connection.execute(sql)
        except sqlite3.Error as error:
            raise InputError(f"SQLite query failed: {error}", path=str(path)) from None
        for row, item in enumerate(cursor, 1):
            yield row, dict(item)
    finally:
        connection.close()


def _only_table(connection: Any, path: Path) -> str:
    names = [r[0] for r in connection.execute(
        "select name from sqlite_master where type in ('table', 'view') "
        "and name not like 'sqlite_%'")]
    if len(names) != 1:
        raise UserError(f"{path}: has tables {', '.join(names) or 'none'}; say which one",
                        hint="pass --table NAME or --query 'select ...'")
    return names[0]


def read_folder(path: Path, **options: Any) -> Iterator[Located]:
    """A Hugging Face dataset saved to disk, a folder of Parquet/Arrow files, or text files."""
    files = sorted(p for p in path.rglob("*") if p.is_file())
    data_files = [p for p in files if p.suffix in (".parquet", ".arrow")]
    if any((path / marker).is_file() for marker in HF_MARKERS) or data_files:
        for file in _hf_files(path, data_files):
            reader = read_parquet if file.suffix == ".parquet" else read_arrow
            for row, record in reader(file):
                yield f"{file.relative_to(path)}:{row}", record
        return
    for file in files:
        if file.suffix.lower() in TEXT_SUFFIXES:
            text = "".join(line for _, line in read_lines(file))
            yield str(file.relative_to(path)), {"text": text}


def _hf_files(path: Path, data_files: list[Path]) -> list[Path]:
    split_dir = path / "train"
    if (path / "dataset_dict.json").is_file() and split_dir.is_dir():
        return sorted(p for p in split_dir.glob("*.arrow"))
    return data_files


READERS = {
    "jsonl": (read_jsonl, "JSON Lines, one record per line", (".jsonl", ".ndjson")),
    "json": (read_json, "a JSON array of records", (".json",)),
    "csv": (read_csv, "comma-separated values with a header row", (".csv",)),
    "tsv": (read_csv, "tab-separated values with a header row", (".tsv", ".tab")),
    "parquet": (read_parquet, "Parquet (e.g. a Hugging Face parquet export)", (".parquet",)),
    "arrow": (read_arrow, "Arrow (a Hugging Face `datasets` file)", (".arrow",)),
    "sqlite": (read_sqlite, "a SQLite table (--table) or query (--query)",
               (".db", ".sqlite", ".sqlite3")),
    "folder": (read_folder, "a Hugging Face dataset folder, or a folder of text files", ()),
}


@hookimpl
def register_data_sources(register: Register) -> None:
    for name, (reader, description, suffixes) in READERS.items():
        register(name, reader, description=description, suffixes=suffixes)


def suffix_owners() -> dict[str, list[tuple[str, str]]]:
    """Each claimed suffix with the ``(reader, plugin)`` pairs claiming it."""
    from ftp.registry import collect

    owners: dict[str, list[tuple[str, str]]] = {}
    for registered in collect("data_sources").values():
        for suffix in registered.suffixes:
            owners.setdefault(suffix, []).append((registered.name, registered.plugin))
    return owners


def source_kind(path: Path) -> str:
    """The reader name for ``path``: "folder" for a folder, else the reader that claims its
    suffix. Two plugins claiming that suffix is an error for this suffix only."""
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    owners = suffix_owners()
    claimed = owners.get(suffix, [])
    if len(claimed) > 1:
        both = " and ".join(f"{name!r} ({plugin})" for name, plugin in claimed)
        raise PluginError(f"{path}: the suffix {suffix} is claimed by the readers {both}",
                          hint="pick one with `ftp data import --format NAME`, or disable a "
                               "plugin (FTP_DISABLE_PLUGINS)")
    if not claimed:
        raise UserError(f"{path}: cannot tell the file type from {suffix or 'no suffix'!r}",
                        hint=f"use one of {', '.join(sorted(owners))}, a folder, or "
                             "--format NAME (a reader; `ftp doctor --json` lists them)")
    return claimed[0][0]


def reader_named(name: str | None) -> str | None:
    """``name`` when it names a data source and not a record format (``--format NAME``
    picks a reader by name), else None."""
    from ftp.registry import collect

    if not name or name == "auto" or name in collect("record_formats"):
        return None
    return name if name in collect("data_sources") else None


def open_source(path: Path, kind: str | None = None, **options: Any) -> Iterator[Located]:
    """Records of ``path`` through the registered reader named ``kind`` (default: the one
    claiming the file's suffix)."""
    from ftp.registry import get

    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    reader = get("data_sources", kind or source_kind(path))
    return reader(path, **options)
