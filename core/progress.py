"""Progress for long work: a bar with rate and ETA on a terminal, plain log lines elsewhere
(CI logs), nothing with ``--quiet``."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


class _Settings:
    quiet = False
    log_every_s = 10.0


def set_quiet(quiet: bool) -> None:
    _Settings.quiet = quiet


def is_quiet() -> bool:
    return _Settings.quiet


def info(message: str) -> None:
    """A status line on stderr, unless quiet (results go to stdout)."""
    if not _Settings.quiet:
        print(message, file=sys.stderr, flush=True)


def progress(items: Iterable[T], total: int | None = None, desc: str = "",
             unit: str = "it") -> Iterator[T]:
    """Yield ``items`` while showing progress in the form that suits the output."""
    if _Settings.quiet:
        yield from items
    elif sys.stderr.isatty():
        from tqdm import tqdm

        yield from tqdm(items, total=total, desc=desc, unit=unit, file=sys.stderr)
    else:
        yield from _logged(items, total, desc, unit)


def _logged(items: Iterable[T], total: int | None, desc: str, unit: str) -> Iterator[T]:
    start = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= _Settings.log_every_s:
            last = now
            info(_line(desc, done, total, now - start, unit))
    info(_line(desc, done, total, time.monotonic() - start, unit))


def _line(desc: str, done: int, total: int | None, elapsed: float, unit: str) -> str:
    rate = done / elapsed if elapsed > 0 else 0.0
    counted = f"{done}/{total}" if total else str(done)
    eta = f", ETA {(total - done) / rate:.0f}s" if total and rate > 0 else ""
    return f"{desc}: {counted} {unit} ({rate:.1f} {unit}/s{eta})"
