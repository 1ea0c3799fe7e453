"""Learning curves of a sweep: score against training examples, one panel per metric, one
line per model/method, standard-error bars. Used for the sweep's PNG and by `ftp report`.

A curve row is one (point, task, metric) score: ``model``, ``method``, ``fraction``,
``examples``, ``task``, ``metric``, ``value``, ``stderr``, ``run_id``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt


def panels(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (task, metric) pairs in first-seen order: test loss first, then the suite's."""
    return list(dict.fromkeys((row["task"], row["metric"]) for row in rows))


def line_label(row: dict[str, Any]) -> str:
    return f"{Path(row['model']).name or row['model']} / {row['method']}"


def figure(rows: list[dict[str, Any]]):
    """A matplotlib figure (Agg) with one panel per metric; the caller saves or encodes it."""
    matplotlib.use("Agg", force=True)
    keys = panels(rows) or [("score", "")]
    columns = min(len(keys), 3)
    lines = -(-len(keys) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(4.2 * columns, 3.2 * lines), dpi=100,
                             squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        _panel(ax, [row for row in rows if (row["task"], row["metric"]) == key], key)
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    fig.suptitle("Learning curve")
    fig.tight_layout()
    return plt, fig


def _panel(ax, rows: list[dict[str, Any]], key: tuple[str, str]) -> None:
    by_line: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_line.setdefault(line_label(row), []).append(row)
    for label, points in by_line.items():
        points.sort(key=lambda r: r["fraction"])
        ax.errorbar([r["examples"] or r["fraction"] for r in points],
                    [r["value"] for r in points], yerr=[r["stderr"] or 0.0 for r in points],
                    marker="o", capsize=3, label=label)
    ax.set_title(" ".join(part for part in key if part), fontsize=9)
    ax.set_xlabel("training examples")
    ax.grid(alpha=0.3)
    if by_line:
        ax.legend(fontsize=7)


def save(rows: list[dict[str, Any]], path: Path) -> Path:
    """Draw ``rows`` to the PNG at ``path`` (folders created)."""
    plt, fig = figure(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
