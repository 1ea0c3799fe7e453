"""Range and cross-key checks of the ``[data]`` section of ``ftp.toml``.

``check_data(values, path)`` is the section's ``check`` (the settings declarations call it;
until then the importer calls it before an import starts). It raises ``ConfigError`` naming
the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftp.errors import ConfigError

FRACTIONS = ("validation_fraction", "test_fraction")
THRESHOLDS = ("near_duplicate_threshold", "contamination_threshold")
ON_ERROR = ("fail", "skip")


def check_data(values: dict[str, Any], path: Path | str = "ftp.toml") -> None:
    for key in FRACTIONS + THRESHOLDS:
        value = values.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: data.{key} must be a number, got {value!r}")
        if not 0 <= value <= 1 or (key in FRACTIONS and value >= 1):
            upper = "below 1" if key in FRACTIONS else "at most 1"
            raise ConfigError(f"{path}: data.{key} must be 0 or more and {upper}, got {value}")
    total = sum(float(values.get(key) or 0) for key in FRACTIONS)
    if total >= 1:
        raise ConfigError(f"{path}: data.validation_fraction + data.test_fraction is "
                          f"{total:g}, which leaves nothing to train on; keep the sum below 1")
    if values.get("on_error", "fail") not in ON_ERROR:
        raise ConfigError(f"{path}: data.on_error must be one of {', '.join(ON_ERROR)}, "
                          f"got {values['on_error']!r}")
    key = values.get("split_key", "")
    if not isinstance(key, str):
        raise ConfigError(f"{path}: data.split_key must be a field name or \"\", got {key!r}")


def check_split_key(record: dict[str, Any], field: str, source: str,
                    path: Path | str = "ftp.toml") -> None:
    """The split key must name a field the records have (checked on the first record)."""
    if field and field not in record:
        raise ConfigError(
            f"{path}: data.split_key = {field!r} names no field of the records in {source} "
            f"(fields: {', '.join(map(str, record)) or 'none'})",
            hint='set it to one of those fields, or to "" to split by the whole prompt')
