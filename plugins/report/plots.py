"""The report's plots: matplotlib (Agg, no display), returned as base64 PNG for inline use."""

from __future__ import annotations

import base64
import io
from typing import Any


def _figure(width: float = 7.0, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=(width, height), dpi=100)


def _png(plt, fig) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def loss_plot(curves: list[dict[str, Any]]) -> str | None:
    if not curves:
        return None
    plt, fig, ax = _figure()
    for curve in curves:
        style = "-" if curve["split"] == "train" else "o--"
        ax.plot(curve["steps"], curve["values"], style, markersize=3,
                label=f"{curve['label']} {curve['split']} {curve['name']}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _png(plt, fig)


def results_plot(results: list[dict[str, Any]]) -> str | None:
    """Grouped bars: one group per task/metric, one bar per run, stderr as error bars."""
    rows = [r for r in results if r["task"] != "leakage" and r["value"] is not None]
    if not rows:
        return None
    keys = list(dict.fromkeys(f"{r['task']}\n{r['metric']}" for r in rows))
    runs = list(dict.fromkeys(r["label"] for r in rows))
    plt, fig, ax = _figure(max(5.0, 1.2 * len(keys) + 2), 3.8)
    width = 0.8 / len(runs)
    for i, run in enumerate(runs):
        found = {f"{r['task']}\n{r['metric']}": r for r in rows if r["label"] == run}
        xs = [k + i * width - 0.4 + width / 2 for k in range(len(keys))]
        values = [found[k]["value"] if k in found else 0.0 for k in keys]
        errors = [(found[k]["stderr"] or 0.0) if k in found else 0.0 for k in keys]
        ax.bar(xs, values, width, yerr=errors, capsize=3, label=run)
    ax.set_xticks(range(len(keys)), keys, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return _png(plt, fig)


def errors_plot(errors: dict[str, Any]) -> str | None:
    if not errors["rows"]:
        return None
    names = [row["category"] for row in errors["rows"]]
    plt, fig, ax = _figure(7.0, max(2.5, 0.4 * len(names) + 1))
    height = 0.8 / len(errors["labels"])
    for i, run in enumerate(errors["labels"]):
        ys = [k + i * height - 0.4 + height / 2 for k in range(len(names))]
        ax.barh(ys, [row["counts"][i] for row in errors["rows"]], height, label=run)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("samples")
    ax.legend(fontsize=7)
    return _png(plt, fig)


def sweep_plot(points: list[dict[str, Any]]) -> str | None:
    """The sweep's learning curves, drawn as `ftp sweep` draws its PNG."""
    if not points:
        return None
    from ftp.plugins.loop.curves import figure

    return _png(*figure(points))


def serving_plot(rows: list[dict[str, Any]]) -> str | None:
    """Generated tokens/s and TTFT p50 against concurrency, one line per served model."""
    if not rows:
        return None
    plt, fig, single = _figure(9.0, 3.6)
    fig.delaxes(single)  # two panels side by side
    speed, first = fig.subplots(1, 2)
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = sorted((r for r in rows if r["model"] == model), key=lambda r: r["concurrency"])
        levels = [r["concurrency"] for r in mine]
        speed.plot(levels, [r["tokens_per_s"] for r in mine], marker="o", label=str(model))
        first.plot(levels, [r["ttft_p50_ms"] for r in mine], marker="o", label=str(model))
    for axis, name in ((speed, "generated tokens/s"), (first, "TTFT p50 (ms)")):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("concurrent requests")
        axis.set_ylabel(name)
    speed.legend(fontsize=7)
    return _png(plt, fig)


def all_plots(data: dict[str, Any]) -> dict[str, str | None]:
    return {"loss": loss_plot(data["loss"]), "results": results_plot(data["results"]),
            "errors": errors_plot(data["errors"]), "sweeps": sweep_plot(data["sweeps"]),
            "serving": serving_plot(data.get("serving", []))}
