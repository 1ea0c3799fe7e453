"""Typed errors. Library code raises these; the CLI turns them into one clear line.

Exit statuses follow CI conventions: 2 for a user's mistake (bad input, bad flag,
missing file), 1 when a check or a gate fails.
"""

from __future__ import annotations


class FtpError(Exception):
    """Base of every error ftp raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def format(self) -> str:
        text = str(self)
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class UserError(FtpError):
    """Something the user can fix: bad input, bad flag, missing file (exit 2)."""


class ConfigError(UserError):
    """An invalid `ftp.toml` or settings file."""


class ProjectNotFound(UserError):
    """No `ftp.toml` in the current folder or any folder above it."""


class NotFound(UserError):
    """A run, dataset, model or task that does not exist."""


class InputError(UserError):
    """A malformed input record; names the file and the line."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 hint: str | None = None) -> None:
        where = path or ""
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.path = path
        self.line = line


class NetworkBlocked(FtpError):
    """A connection to an address outside loopback was attempted (offline guard)."""

    exit_code = 2


class CheckFailed(FtpError):
    """A check or a release gate did not pass (exit 1)."""

    exit_code = 1


class PluginError(FtpError):
    """A plugin failed to load or implements an unknown hook."""
