"""`ftp.toml`: loading, defaults and validation.

The schema is what plugins declare through the ``register_settings`` hook (``ftp.settings``):
every declared section and key is known, with its type, default, choices and range. A key
nobody declared is an error naming the key and the allowed ones.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ftp import boundaries, settings
from ftp.errors import ConfigError

CONFIG_NAME = "ftp.toml"


def template_text(name: str = "my-project") -> str:
    """The annotated ftp.toml ``ftp init`` writes, built from the declared sections."""
    return settings.template_text(name)


def defaults() -> dict[str, dict[str, Any]]:
    """Every declared section with its defaults (a fresh copy)."""
    return settings.defaults()


def validate(data: dict[str, Any], path: Path | str = CONFIG_NAME) -> dict[str, Any]:
    """Merge ``data`` over the defaults; raise ConfigError for unknown keys or bad values."""
    return settings.validate(data, path)


def load(path: Path) -> dict[str, Any]:
    """Read and validate a config file; a syntax error names the file and line."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except RecursionError:  # arrays nested thousands deep
        raise ConfigError(f"{path}: nested too deeply to read") from None
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error.reason})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    with boundaries.settings(path, "a value of the wrong kind"):  # e.g. in a section's check
        return validate(data, path)
