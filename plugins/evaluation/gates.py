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

from ftp import boundaries
from ftp.errors import ConfigError, InputError

GATE_KEYS = {"name", "task", "metric", "min", "max_drop", "alpha", "test", "significance",
             "source", "min_agreement"}
TOP_KEYS = {"alpha", "bootstrap_samples", "seed", "gate"}
TESTS = ("auto", "mcnemar", "bootstrap", "none")
RATING_METRICS = ("pass_rate", "mean_score")
# Built-in metrics that are rates (0 to 1), and scores with another range: a floor outside
# the range is a mistake (it can never be met, or never fail).
RATE_METRICS = frozenset({"acc", "acc_norm", "exact_match", "normalized_match", "token_f1",
                          "rouge_l", "json_valid", "field_accuracy", "self_consistency",
                          "judge_parsed", "mc1", "mc2", "pass_rate"})
SCORE_METRICS = {"judge_score": (1.0, 5.0), "mean_score": (1.0, 5.0)}


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
    with boundaries.reading(path):  # nested too deep: exit 2
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            found = re.search(r"^(.*?)\s*\(at line (\d+), column \d+\)", str(error))
            message, line = (found.group(1), int(found.group(2))) if found else (str(error),
                                                                                 None)
            raise InputError(f"TOML syntax error: {message}", path=str(path),
                             line=line) from None
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(sorted(TOP_KEYS))}")
    lines = _gate_lines(text)
    raw = data.get("gate", [])
    if not isinstance(raw, list) or not raw:
        raise InputError("no [[gate]] tables", path=str(path),
                         hint="see `ftp eval --help` for the gates file format")
    top = _line_of(text, "alpha")
    alpha = _alpha(data.get("alpha", 0.05), path, top)
    samples = _integer(data.get("bootstrap_samples", 10000), "bootstrap_samples", path,
                       _line_of(text, "bootstrap_samples"), minimum=1)
    seed = _integer(data.get("seed", 0), "seed", path, _line_of(text, "seed"), minimum=0)
    gates = [_gate(entry, path, lines[i] if i < len(lines) else None, alpha)
             for i, entry in enumerate(raw)]
    return GateFile(path, gates, samples, seed)


def _line_of(text: str, key: str) -> int | None:
    """The line of a top-level ``key = ...`` (before the first table), for messages."""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            return None
        if stripped.split("=", 1)[0].strip() == key:
            return number
    return None


def _alpha(value: Any, path: Path, line: int | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise InputError(f"alpha must be a number between 0 and 1 (e.g. 0.05), got {value!r}",
                         path=str(path), line=line)
    return float(value)


def _integer(value: Any, key: str, path: Path, line: int | None, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{key} must be a whole number of at least {minimum}, got {value!r}",
                         path=str(path), line=line)
    return value


def _bounds(source: str, metric: str) -> tuple[float, float] | None:
    """The range a metric's values lie in, where ftp knows it (rates: 0 to 1)."""
    if source == "ratings":
        return (0.0, 1.0) if metric == "pass_rate" else (1.0, 5.0)
    return SCORE_METRICS.get(metric) or ((0.0, 1.0) if metric in RATE_METRICS else None)


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
    if source == "parity":  # served run vs in-process run (plugins/serving/parity.py)
        from ftp.plugins.serving.parity import parity_gate

        return parity_gate(entry, path, line, alpha)
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
    for key in ("task", "metric", "name"):
        if key in entry and not isinstance(entry[key], str):
            raise fail(f"{key} must be a string, got {entry[key]!r}")
    if not isinstance(entry.get("significance", True), bool):
        raise fail(f"significance must be true or false, got {entry['significance']!r}")
    bounds = _bounds(source, entry["metric"])
    floor = _number(entry.get("min"), "min", fail)
    if floor is not None and bounds and not bounds[0] <= floor <= bounds[1]:
        raise fail(f"min = {floor:g} can never be met or never fail: {entry['metric']} lies "
                   f"between {bounds[0]:g} and {bounds[1]:g}")
    drop = _number(entry.get("max_drop", 0.0), "max_drop", fail)
    if drop is not None and (drop < 0 or (bounds and drop > bounds[1] - bounds[0])):
        raise fail(f"max_drop must be 0 or more (and within the metric's range), got {drop:g}")
    gate_alpha = _alpha(entry.get("alpha", alpha), path, line)
    with boundaries.gates(path, line):
        return Gate(task=entry.get("task"), metric=entry["metric"],
                    name=entry.get("name") or f"{entry.get('task', 'human')}/"
                                              f"{entry['metric']}",
                    line=line, min=floor, max_drop=drop or 0.0, alpha=gate_alpha,
                    test=entry.get("test", "auto"),
                    significance=entry.get("significance", True), source=source)


def _number(value: Any, key: str, fail: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(f"{key} must be a number, got {value!r}")
    return float(value)


def check_suite(gate_file: GateFile, produced: dict[str, tuple[str, ...] | None],
                complete: bool) -> None:
    """Before evaluating: each results gate names a task the suite produces and a metric of
    it. ``produced`` maps the tasks the evaluators declare to their metrics (None: not
    declared); ``complete`` is False when an evaluator declares nothing, so an unknown task
    may still come from it."""
    for gate in gate_file.gates:
        if gate.source != "results":
            continue
        metrics = _task_metrics(produced, gate.task or "")
        if metrics is _UNKNOWN:
            if complete:
                raise InputError(f"gate {gate.name!r}: the suite does not evaluate task "
                                 f"{gate.task!r}; it evaluates {', '.join(sorted(produced))}",
                                 path=str(gate_file.path), line=gate.line,
                                 hint="add the task to --suite (or [eval] suite), or fix "
                                      "the gate's task")
            continue
        if metrics is not None and gate.metric not in metrics:
            raise InputError(f"gate {gate.name!r}: task {gate.task} has no metric "
                             f"{gate.metric!r}; its metrics: {', '.join(metrics)}",
                             path=str(gate_file.path), line=gate.line)


_UNKNOWN: Any = object()


def _task_metrics(produced: dict[str, tuple[str, ...] | None], task: str) -> Any:
    if task in produced:
        return produced[task]
    for name, metrics in produced.items():  # a group's members: mmlu -> mmlu_anatomy
        if name.endswith("*") and task.startswith(name[:-1]):
            return metrics
    return _UNKNOWN
