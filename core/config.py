"""`ftp.toml`: the annotated template, loading, defaults and validation.

The template in ``templates/ftp.toml`` is the schema: every section and key it holds is
known, its value is the default, and its type is the type a user's value must have. A key
that is not there is an error naming the key and the allowed ones.
"""

from __future__ import annotations

import copy
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ftp.errors import ConfigError

CONFIG_NAME = "ftp.toml"


def template_text(name: str = "my-project") -> str:
    text = resources.files("ftp").joinpath("templates/ftp.toml").read_text()
    return text.replace("{name}", name)


@lru_cache(maxsize=1)
def defaults() -> dict[str, dict[str, Any]]:
    return tomllib.loads(template_text())


def _type_ok(default: Any, value: Any) -> bool:
    if default is None or value is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    if isinstance(default, (list, str)) and isinstance(value, (list, str)):
        # A one-item list may be written as a string ("testset" for ["testset"]).
        return True
    return isinstance(value, type(default))


def validate(data: dict[str, Any], path: Path | str = CONFIG_NAME) -> dict[str, Any]:
    """Merge ``data`` over the defaults; raise ConfigError for unknown keys or wrong types."""
    merged = copy.deepcopy(defaults())
    for section, values in data.items():
        if section not in merged:
            raise ConfigError(
                f"{path}: unknown section [{section}]; allowed: {', '.join(merged)}"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        for key, value in values.items():
            _check_key(merged[section], section, key, value, path)
            merged[section][key] = value
    return merged


def _check_key(known: dict[str, Any], section: str, key: str, value: Any,
               path: Path | str) -> None:
    if key not in known:
        raise ConfigError(
            f"{path}: unknown key {section}.{key}; allowed in [{section}]: "
            f"{', '.join(known)}"
        )
    if not _type_ok(known[key], value):
        raise ConfigError(
            f"{path}: {section}.{key} must be a {type(known[key]).__name__}, "
            f"got {value!r}"
        )


def load(path: Path) -> dict[str, Any]:
    """Read and validate a config file; a syntax error names the file and line."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error.reason})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    return validate(data, path)
