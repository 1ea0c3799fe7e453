"""`ftp report`: one self-contained HTML file (plots inline as base64 PNG, no external
assets, so it can be mailed or archived as a CI artifact) and a markdown twin for CI pages.

Both render the same sections, built once from ``report_data.gather``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from ftp.output import format_value
from ftp.plugins.loop.curves import line_label


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    plot: str | None = None
    note: str = ""
    extra: list[str] = field(default_factory=list)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
    return format_value(value)


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}" if isinstance(value, float) else f"{value:+d}"


def _results_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    first: dict[tuple[str, str], float] = {}
    rows = []
    for r in results:
        if r["task"] == "leakage":
            continue
        key = (r["task"], r["metric"])
        first.setdefault(key, r["value"])
        change = r["value"] - first[key] if r["value"] is not None else None
        stderr = f" ± {_fmt(r['stderr'])}" if r["stderr"] is not None else ""
        rows.append([r["label"], r["task"], r["metric"], f"{_fmt(r['value'])}{stderr}", r["n"],
                     _signed(change) if change else "-"])
    return rows


def sections(data: dict[str, Any], plots: dict[str, str | None]) -> list[Section]:
    errors = data["errors"]
    loss_rows = [[c["label"], c["split"], c["name"], len(c["steps"]), _fmt(c["values"][0]),
                  _fmt(c["values"][-1])] for c in data["loss"]]
    out = [
        Section("Runs", ["run", "status", "model", "dataset", "duration (s)"],
                [[r["label"], r["status"], r["model"], r["dataset_id"],
                  None if r["duration_s"] is None else round(r["duration_s"], 1)]
                 for r in data["runs"]]),
        Section("Loss curves", ["run", "split", "metric", "points", "first", "last"], loss_rows,
                plots.get("loss"), "No loss was logged for these runs."),
        Section("Learning curve (sweep)", ["model / method", "examples", "task", "metric",
                                           "value ± stderr"],
                [[line_label(p), p["examples"], p["task"], p["metric"],
                  _fmt(p["value"]) + (f" ± {_fmt(p['stderr'])}" if p["stderr"] is not None
                                      else "")] for p in data["sweeps"]],
                plots.get("sweeps"), "No sweep among these runs."),
        Section("Benchmark and test-set scores", ["run", "task", "metric", "value ± stderr", "n",
                                                  "change vs first"],
                _results_rows(data["results"]), plots.get("results"), "No evaluation results."),
        Section("Error categories", ["category", *errors["labels"], "change"],
                [[row["category"], *row["counts"], _signed(row["change"])]
                 for row in errors["rows"]], plots.get("errors"),
                "No error categories among the samples." if errors["runs"] else "No samples.",
                [f"samples per run: {', '.join(map(str, errors['totals']))}"]
                if errors["runs"] else []),
        Section("Human review", ["run", "ratings", "pass rate", "mean score"],
                [[r["label"], r["ratings"], r["pass_rate"], r["mean_score"]]
                 for r in data["ratings"]], note="No ratings yet (`ftp review`)."),
        Section("Scrub report (PII found at import)", ["dataset", "tier", "entity", "found"],
                [[f"{s['name']} v{s['version']} (#{s['dataset']})", s["tier"], entity, count]
                 for s in data["scrub"] for entity, count in sorted(s["entities"].items())],
                note="No PII was found, or no dataset is linked to these runs."),
        Section("Leakage audit", ["run", "metric", "value", "n"],
                [[r["label"], r["metric"], r["value"], r["n"]] for r in data["leakage"]],
                note="No leakage audit (`ftp audit leakage RUN`)."),
        Section("Serving: latency and cost under load", ["model", "concurrency", "requests",
                                                         "TTFT p50 (ms)", "TTFT p95 (ms)",
                                                         "ITL p50 (ms)", "ITL p95 (ms)",
                                                         "ITL p99 (ms)", "requests/s",
                                                         "tokens/s", "cost / M tokens"],
                [[s["model"], s["concurrency"], s["requests"], s["ttft_p50_ms"],
                  s["ttft_p95_ms"], s["itl_p50_ms"], s["itl_p95_ms"], s["itl_p99_ms"],
                  s["requests_per_s"], s["tokens_per_s"], s.get("cost_per_m_tokens")]
                 for s in data.get("serving", [])], plots.get("serving"),
                "No serving benchmark (`ftp bench serve`)."),
        Section("Gate decisions", ["gate", "task", "metric", "value", "baseline", "p", "passed",
                                   "reason"],
                [[g["gate"], g["task"], g["metric"], g["value"], g["baseline_value"],
                  g["p_value"], "PASS" if g["passed"] else "FAIL", g["reason"]]
                 for g in data["gates"]], note="No gates were applied."),
    ]
    return out


def verdict(data: dict[str, Any]) -> str:
    gates = data["gates"]
    if not gates:
        return "no gates applied"
    failed = [g for g in gates if not g["passed"]]
    return f"{len(gates) - len(failed)}/{len(gates)} gates passed" + (
        f"; FAILED: {', '.join(str(g['gate']) for g in failed)}" if failed else "")


def title(data: dict[str, Any]) -> str:
    subject = data["subject"]
    return f"ftp report: run #{subject['id']} ({subject['kind']}" + (
        f", {subject['name']})" if subject.get("name") else ")")


# markdown ----------------------------------------------------------------------------------


# Markdown (and the HTML a markdown page may hold) from ASCII punctuation: each of these is
# backslash-escaped (CommonMark renders an escaped one as itself); # only first, + and - first
# and before a space (a heading, a list item); an underscore only where
# it could open or close emphasis (not inside a word: wrong_priority stays as it is).
_MD_SPECIAL = re.compile(r"[\\`*{}\[\]<>!|~&]|^#|^[+-](?=\s)|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md_escape(text: str) -> str:
    """``text`` as literal markdown text on one line: run names and notes are users' input."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), " ".join(text.splitlines()))


def _md_cell(value: Any) -> str:
    return md_escape(_fmt(value))


def render_markdown(data: dict[str, Any]) -> str:
    lines = [f"# {md_escape(title(data))}", "", f"**Gates:** {md_escape(verdict(data))}", ""]
    for section in sections(data, {}):
        lines += [f"## {section.title}", ""]
        if not section.rows:
            lines += [f"_{section.note}_", ""]  # ftp's own text, markdown on purpose
            continue
        lines.append("| " + " | ".join(map(md_escape, section.columns)) + " |")
        lines.append("|" + "---|" * len(section.columns))
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in section.rows]
        lines += [""] + [f"_{md_escape(text)}_\n" for text in section.extra]
    return "\n".join(lines).rstrip() + "\n"


# HTML --------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;
color:#1d232a}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid
#d8dde3}table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d8dde3;padding:
.25rem .6rem;text-align:left}th{background:#f1f3f5}.pass{color:#1e7f5c;font-weight:600}.fail{
color:#c0392b;font-weight:600}.note{color:#52606d;font-style:italic}img{max-width:100%}
"""


def _html_cell(value: Any) -> str:
    text = _fmt(value)
    css = {"PASS": ' class="pass"', "FAIL": ' class="fail"'}.get(text, "")
    return f"<td{css}>{html.escape(text)}</td>"


def _html_section(section: Section) -> str:
    parts = [f"<h2>{html.escape(section.title)}</h2>"]
    if section.plot:
        parts.append(f'<img alt="{html.escape(section.title)}" '
                     f'src="data:image/png;base64,{section.plot}">')
    if not section.rows:
        parts.append(f'<p class="note">{html.escape(section.note)}</p>')
        return "\n".join(parts)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in section.columns)
    body = "\n".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>"
                     for row in section.rows)
    parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>")
    parts += [f'<p class="note">{html.escape(text)}</p>' for text in section.extra]
    return "\n".join(parts)


def render_html(data: dict[str, Any], plots: dict[str, str | None]) -> str:
    body = "\n".join(_html_section(section) for section in sections(data, plots))
    gates = verdict(data)
    css_class = "fail" if "FAILED" in gates else "pass" if data["gates"] else "note"
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title(data))}</title><style>{CSS}</style></head><body>\n"
            f"<h1>{html.escape(title(data))}</h1>\n"
            f'<p>Gates: <span class="{css_class}">{html.escape(gates)}</span></p>\n'
            f"{body}\n</body></html>\n")
