"""Where library exceptions become ftp's ``UserError``: one context manager per boundary.

A library raising on a user's file (a truncated safetensors file, a ``config.json`` that is
not JSON, a JSON record nested 100,000 deep, a file that is not SQLite) is a user's mistake,
not a bug: the CLI shows one line and exits 2. Each boundary names what was being done and
which file, and translates only the exception types that mean "this input is bad" there;
anything else stays a traceback (a bug to fix).

    with boundaries.model_loading(folder):
        model = AutoModelForCausalLM.from_pretrained(folder)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager as ContextManager
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ftp.errors import FtpError, InputError, UserError

T = TypeVar("T")

# What a reader's library raises for a malformed file: JSON too deep (RecursionError), an
# integer over Python's digit limit or a bad value (ValueError), not a SQLite file
# (sqlite3.DatabaseError), a bad byte sequence (UnicodeError), pyarrow's ArrowException
# (a ValueError/OSError subclass), a truncated file (EOFError, OSError).
READ_ERRORS: tuple[type[BaseException], ...] = (
    RecursionError, ValueError, sqlite3.DatabaseError, UnicodeError, EOFError, OSError,
)


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (libraries write pages), without the text
    of a record: messages quote positions, never values we read."""
    if isinstance(error, RecursionError):
        return "nested too deeply"
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def _reading_message(error: BaseException) -> str:
    if isinstance(error, RecursionError):
        return "nested too deeply to read (more levels than Python's recursion limit)"
    if isinstance(error, ValueError) and "digits" in str(error):
        return "a number with more digits than Python converts (4,300)"
    if isinstance(error, sqlite3.DatabaseError):
        return f"not a readable SQLite database ({first_line(error)})"
    return f"cannot read ({type(error).__name__}{_position(error)})"


def _position(error: BaseException) -> str:
    """Where a decoder stopped, never what it read: other libraries' messages (pyarrow, csv)
    may quote a cell of the user's data, which can hold PII."""
    if isinstance(error, json.JSONDecodeError):
        return f": {error.msg} at column {error.colno}"
    if isinstance(error, UnicodeDecodeError):
        return f": {error.reason} at byte {error.start}"
    return ""


@contextmanager
def _translated(errors: tuple[type[BaseException], ...],
                make: Callable[[BaseException], FtpError]) -> Iterator[None]:
    """The one shape of every boundary: ftp's own errors pass, ``errors`` become ``make``'s."""
    try:
        yield
    except FtpError:
        raise
    except errors as error:
        raise make(error) from None


def reading(path: Path | str, line: int | None = None) -> ContextManager[None]:
    """Reading a user's data file: a malformed file is an InputError naming file and line."""
    return _translated(READ_ERRORS, lambda error: InputError(
        _reading_message(error), path=str(path), line=line))


def read_guarded(path: Path | str, pairs: Iterable[T]) -> Iterator[T]:
    """Iterate a reader's records through the reading boundary; a failure names the line
    after the last one read (the reader's own errors name their line already)."""
    iterator = iter(pairs)
    last: Any = None
    while True:
        with reading(path, last + 1 if isinstance(last, int) else None):
            try:
                item = next(iterator)
            except StopIteration:
                return
        if isinstance(item, tuple) and item:
            last = item[0]
        yield item


# What transformers, tokenizers and safetensors raise for a broken model folder.
def _model_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, ValueError, KeyError, TypeError,
                                         RecursionError, EOFError]
    try:
        from safetensors import SafetensorError

        errors.append(SafetensorError)
    except ImportError:  # pragma: no cover - safetensors is a dependency
        pass
    try:  # a config.json value of the wrong type ("hidden_size": "abc")
        from huggingface_hub.errors import StrictDataclassError

        errors.append(StrictDataclassError)
    except ImportError:  # pragma: no cover - older huggingface_hub
        pass
    return tuple(errors)


def _tokenizers_error(error: BaseException) -> bool:
    """The tokenizers library (Rust) raises a bare ``Exception`` for a bad tokenizer.json."""
    return type(error) is Exception or type(error).__module__.startswith("tokenizers")


@contextmanager
def model_loading(what: Path | str) -> Iterator[None]:
    """Loading a model or tokenizer from a folder: a broken file is a UserError."""
    try:
        with _translated(_model_errors(), lambda error: UserError(
                f"{what}: cannot load the model ({first_line(error)})",
                hint="a model folder needs a valid config.json, complete weights "
                     "(*.safetensors) and tokenizer files")):
            yield
    except Exception as error:
        if isinstance(error, FtpError) or not _tokenizers_error(error):
            raise
        raise UserError(f"{what}: cannot load the tokenizer ({first_line(error)})",
                        hint="tokenizer.json is not a valid tokenizer file") from None


VALUE_ERRORS: tuple[type[BaseException], ...] = (TypeError, ValueError, OverflowError)


def settings(path: Path | str, what: str) -> ContextManager[None]:
    """Reading a setting from a project file: a value of the wrong kind is a ConfigError."""
    from ftp.errors import ConfigError

    return _translated(VALUE_ERRORS, lambda error: ConfigError(
        f"{path}: {what}: {first_line(error)}"))


def gates(path: Path | str, line: int | None = None) -> ContextManager[None]:
    """Reading a gates file: a value of the wrong kind is an InputError at its line."""
    return _translated(VALUE_ERRORS, lambda error: InputError(
        f"bad value: {first_line(error)}", path=str(path), line=line))


@contextmanager
def store_busy() -> Iterator[None]:
    """Any write that gave up on a locked store: one line naming the command holding it."""
    try:
        yield
    except sqlite3.OperationalError as error:
        if "locked" not in str(error) and "busy" not in str(error):
            raise
        from ftp.store import busy_error

        raise busy_error() from None
