"""Range checks of the evaluation settings as flags give them (``ftp eval --shots -5``).

``[eval]`` in ftp.toml is checked by its declaration (``sections.py``: minimum, maximum);
flags bypass it, so ``check_flags`` applies the same ranges to them before they are merged
(``EvalSettings.from_config`` reads a negative ``shots`` as "the task's default", so -5
must be refused before it gets there). ``check_settings`` checks a built ``EvalSettings``
(the Python API's way in) and the device.
"""

from __future__ import annotations

from typing import Any

from ftp.errors import UserError
from ftp.plugins.models.loading import check_device

# flag -> (lowest allowed value, what to say)
FLAG_RANGES: dict[str, tuple[float, str]] = {
    "limit": (0, "0 (all) or more"),
    "shots": (-1, "-1 (each task's default) or 0 or more"),
    "batch_size": (1, "1 or more"),
    "samples": (1, "1 or more"),
    "max_new_tokens": (1, "1 or more"),
}


def check_flags(**flags: Any) -> None:
    """Each given flag (None: not given) within its range; ``temperature`` above 0."""
    for key, value in flags.items():
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if key == "temperature":
            if not value > 0:  # also refuses nan
                raise UserError(f"{flag} must be above 0, got {value}")
            continue
        lowest, wanted = FLAG_RANGES[key]
        if value < lowest:
            raise UserError(f"{flag} must be {wanted}, got {value}")


def check_settings(settings: Any) -> None:
    """A built ``EvalSettings``: the same ranges, and a device that exists here."""
    check_flags(limit=settings.limit, shots=settings.shots, batch_size=settings.batch_size,
                samples=settings.samples, max_new_tokens=settings.max_new_tokens,
                temperature=settings.temperature)
    check_device(settings.device)
