"""Release gates: absolute floors, maximum drops and paired significance tests.

A gates file (TOML)::

    alpha = 0.05                # significance level (default for every gate)
    bootstrap_samples = 10000

    [[gate]]
    task = "arc_challenge"
    metric = "acc"
    min = 0.30                  # absolute floor (optional)
    max_drop = 0.0              # largest tolerated drop against the baseline (default 0)

    [[gate]]
    source = "ratings"          # human review: pass_rate or mean_score of the run's ratings
    metric = "pass_rate"
    min = 0.8

A gate against a baseline fails when the candidate is lower by more than ``max_drop`` *and*
the paired test says the drop is real (p < alpha): exact McNemar for 0/1 outcomes, the
paired bootstrap for continuous scores. Set ``significance = false`` to fail on any drop
larger than ``max_drop``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftp.errors import ConfigError, InputError

GATE_KEYS = {"name", "task", "metric", "min", "max_drop", "alpha", "test", "significance",
             "source"}
TOP_KEYS = {"alpha", "bootstrap_samples", "seed", "gate"}
TESTS = ("auto", "mcnemar", "bootstrap", "none")
RATING_METRICS = ("pass_rate", "mean_score")


@dataclass
class Gate:
    task: str | None
    metric: str
    name: str
    line: int | None = None
    min: float | None = None
    max_drop: float = 0.0
    alpha: float = 0.05
    test: str = "auto"
    significance: bool = True
    source: str = "results"


@dataclass
class GateFile:
    path: Path
    gates: list[Gate]
    bootstrap_samples: int = 10000
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def load_gates(path: Path | str) -> GateFile:
    """Parse and validate a gates file; errors name the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read the gates file: {error.strerror}", path=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"^(.*?)\s*\(at line (\d+), column \d+\)", str(error))
        message, line = (found.group(1), int(found.group(2))) if found else (str(error), None)
        raise InputError(f"TOML syntax error: {message}", path=str(path), line=line) from None
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(sorted(TOP_KEYS))}")
    lines = _gate_lines(text)
    raw = data.get("gate", [])
    if not isinstance(raw, list) or not raw:
        raise InputError("no [[gate]] tables", path=str(path),
                         hint="see `ftp eval --help` for the gates file format")
    alpha = float(data.get("alpha", 0.05))
    gates = [_gate(entry, path, lines[i] if i < len(lines) else None, alpha)
             for i, entry in enumerate(raw)]
    return GateFile(path, gates, int(data.get("bootstrap_samples", 10000)),
                    int(data.get("seed", 0)))


def _gate_lines(text: str) -> list[int]:
    return [number for number, line in enumerate(text.splitlines(), 1)
            if line.strip().replace(" ", "").startswith("[[gate]]")]


def _gate(entry: dict[str, Any], path: Path, line: int | None, alpha: float) -> Gate:
    def fail(message: str) -> InputError:
        return InputError(message, path=str(path), line=line)

    unknown = set(entry) - GATE_KEYS
    if unknown:
        raise fail(f"unknown gate key(s) {', '.join(sorted(unknown))}; "
                   f"known: {', '.join(sorted(GATE_KEYS))}")
    source = entry.get("source", "results")
    if source not in ("results", "ratings"):
        raise fail(f"source must be 'results' or 'ratings', not {source!r}")
    if "metric" not in entry or (source == "results" and "task" not in entry):
        raise fail("a gate needs 'task' and 'metric' (ratings gates: 'metric')")
    if source == "ratings" and entry["metric"] not in RATING_METRICS:
        raise fail(f"unknown ratings metric {entry['metric']!r}; known: "
                   f"{', '.join(RATING_METRICS)}")
    if entry.get("test", "auto") not in TESTS:
        raise fail(f"test must be one of {', '.join(TESTS)}")
    if "min" not in entry and "max_drop" not in entry and source == "results":
        entry = {**entry, "max_drop": 0.0}
    try:
        return Gate(task=entry.get("task"), metric=str(entry["metric"]),
                    name=str(entry.get("name") or f"{entry.get('task', 'human')}/"
                             f"{entry['metric']}"),
                    line=line, min=_number(entry.get("min")),
                    max_drop=float(entry.get("max_drop", 0.0)),
                    alpha=float(entry.get("alpha", alpha)), test=entry.get("test", "auto"),
                    significance=bool(entry.get("significance", True)), source=source)
    except (TypeError, ValueError) as error:
        raise fail(f"bad value: {error}") from None


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
