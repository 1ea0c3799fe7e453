"""Field mapping and per-record validation, with file and line in every message.

``on_error="fail"`` stops at the first bad record; ``"skip"`` records each bad line (the
importer reports all of them) and goes on. Mixed formats in one file are an error either
way of the first kind: one file holds one format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ftp.errors import InputError, UserError
from ftp.plugins.data.formats import all_formats, detect

Located = tuple[Any, dict[str, Any]]
# A field name shown in a message: what a schema's names look like. Anything else (a key
# that is an e-mail address, a sentence, an id such as EMP-123456 in the first row of a CSV
# without a header) may be the record's data and is only counted.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,39}")
_DATA_LIKE = re.compile(r"\d{3}")  # a run of digits: an id, a number, a date


def field_names(names: Iterable[Any]) -> str:
    """The names of a record's fields for a message, without any that may be its data."""
    names = [str(n) for n in names]
    shown = [n for n in names
             if _PLAIN_NAME.fullmatch(n) and "@" not in n and not _DATA_LIKE.search(n)]
    hidden = len(names) - len(shown)
    text = ", ".join(shown) + (f"{', ' if shown else ''}{hidden} other(s) not shown"
                               if hidden else "")
    return text or "none"


def parse_mapping(text: str | dict[str, str] | None) -> dict[str, str]:
    """``"instruction=question,output=answer"`` -> ``{"instruction": "question", ...}``."""
    if not text:
        return {}
    if isinstance(text, dict):
        return dict(text)
    mapping = {}
    for item in text.split(","):
        target, sep, source = item.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise UserError(f"bad field mapping {item!r}; expected ftp_field=your_field, "
                            "e.g. instruction=question,output=answer")
        mapping[target.strip()] = source.strip()
    return mapping


def apply_mapping(record: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Rename the user's fields to ftp's; raise KeyError naming a missing source field."""
    if not mapping:
        return record
    for target, source in mapping.items():
        if source not in record:
            raise KeyError(f"field mapping {target}={source}: no field {source!r} in the "
                           f"record (fields: {field_names(record)})")
    out = {k: v for k, v in record.items() if k not in mapping.values()}
    out.update({target: record[source] for target, source in mapping.items()})
    return out


def _where(location: Any) -> tuple[int | None, str]:
    """InputError wants an int line; text folders and HF files have names instead."""
    if isinstance(location, int):
        return location, ""
    return None, f"{location}: "


class Validator:
    """Turns ``(location, raw)`` pairs into ``(location, normalised)`` pairs."""

    def __init__(self, path: str, fmt: str = "auto", mapping: dict[str, str] | None = None,
                 on_error: str = "fail",
                 on_skip: Callable[[Any, str], None] | None = None) -> None:
        if on_error not in ("fail", "skip"):
            raise UserError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
        self.path, self.mapping, self.on_error = path, mapping or {}, on_error
        self.formats = all_formats()
        if fmt not in ("auto", None) and fmt not in self.formats:
            raise UserError(f"unknown record format {fmt!r}; known: auto, "
                            f"{', '.join(self.formats)}")
        self.fmt = None if fmt in ("auto", None) else fmt
        self.fixed = self.fmt is not None
        self.first_location: Any = None
        self.on_skip = on_skip or (lambda location, reason: None)
        self.read = self.skipped = 0

    def error(self, location: Any, reason: str) -> InputError:
        line, prefix = _where(location)
        return InputError(prefix + reason, path=self.path, line=line)

    def __call__(self, pairs: Iterable[Located]) -> Iterator[Located]:
        for location, raw in pairs:
            self.read += 1
            try:
                yield location, self.one(location, raw)
            except ValueError as error:
                if self.on_error == "fail":
                    raise self.error(location, str(error)) from None
                self.skipped += 1
                self.on_skip(location, str(error))
        if self.read == 0:
            raise InputError("no records: the source is empty", path=self.path,
                             hint="check the file, or the --table/--query")

    def one(self, location: Any, raw: dict[str, Any]) -> dict[str, Any]:
        try:
            record = apply_mapping(raw, self.mapping)
        except KeyError as error:
            if self.read == 1:  # the mapping itself is wrong: not one bad record
                raise self.error(location, error.args[0]) from None
            raise ValueError(error.args[0]) from None
        name = self._format(location, record)
        return self.formats[name].validate(record)

    def _format(self, location: Any, record: dict[str, Any]) -> str:
        if self.fixed:
            return self.fmt
        found = detect(record, self.formats)
        if found is None and self.fmt is not None:
            return self.fmt  # validating against the file's format names what is missing
        if found is None:
            raise ValueError(
                f"cannot tell the record format from fields {field_names(record)}; "
                f"expected one of: {self._expected()} (or pass --format / --map)")
        if self.fmt is None:
            self.fmt, self.first_location = found, location
        elif found != self.fmt:
            line, _ = _where(self.first_location)
            first = f"line {line}" if line else str(self.first_location)
            raise self.error(location, f"mixed formats: this record is {found}, but {first} "
                                       f"is {self.fmt}; one file holds one format")
        return found

    def _expected(self) -> str:
        shapes = []
        for name, fmt in self.formats.items():
            fields = getattr(fmt, "required", ())
            shapes.append(f"{name} ({'/'.join(fields)})" if fields else name)
        return "; ".join(shapes)
