"""CI reports of an evaluation: JUnit XML (one test case per gate) and a markdown summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from ftp.output import format_value
from ftp.plugins.evaluation.tasks import SUBJECT_CATEGORY

RESULT_COLUMNS = ("task", "metric", "value", "stderr", "n")


def junit(results: list[dict[str, Any]], decisions: list[dict[str, Any]], run_id: int) -> str:
    suite = ET.Element("testsuite", name="ftp-eval", tests=str(max(len(decisions), 1)),
                       failures=str(sum(not d["passed"] for d in decisions)), errors="0")
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="eval_run",
                  value=str(run_id))
    if not decisions:  # no gates: one case that records the results
        case = ET.SubElement(suite, "testcase", classname="ftp.eval", name="evaluation")
        ET.SubElement(case, "system-out").text = markdown_results(results)
    for decision in decisions:
        case = ET.SubElement(suite, "testcase", classname=f"ftp.gates.{decision['task']}",
                             name=decision["gate"])
        ET.SubElement(case, "system-out").text = _describe(decision)
        if not decision["passed"]:
            ET.SubElement(case, "failure", message=decision["reason"]).text = _describe(decision)
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _describe(decision: dict[str, Any]) -> str:
    keys = ("value", "baseline_value", "difference", "p_value", "ci_low", "ci_high", "test",
            "reason")
    return "\n".join(f"{key}: {format_value(decision.get(key))}" for key in keys)


def headline(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results without MMLU's 57 per-subject rows (they stay in the store)."""
    subjects = {f"mmlu_{subject}" for subject in SUBJECT_CATEGORY}
    return [r for r in results if r["task"] not in subjects]


def markdown_results(results: list[dict[str, Any]]) -> str:
    return _table(headline(results), RESULT_COLUMNS)


def markdown(results: list[dict[str, Any]], decisions: list[dict[str, Any]], run_id: int,
             model: str) -> str:
    lines = [f"## ftp eval: {model} (eval run {run_id})", "", markdown_results(results), ""]
    if decisions:
        passed = all(d["passed"] for d in decisions)
        lines += [f"### Gates: {'PASSED' if passed else 'FAILED'}", ""]
        rows = [{**d, "status": "pass" if d["passed"] else "**FAIL**",
                 "95% CI": _interval(d)} for d in decisions]
        lines.append(_table(rows, ("status", "gate", "value", "baseline_value", "difference",
                                   "95% CI", "p_value", "reason")))
    return "\n".join(lines) + "\n"


def _interval(decision: dict[str, Any]) -> str | None:
    if decision.get("ci_low") is None:
        return None
    return f"[{decision['ci_low']:+.4f}, {decision['ci_high']:+.4f}]"


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(format_value(row.get(c)).replace("|", "\\|") for c in columns)
            + " |" for row in rows]
    return "\n".join([head, rule, *body])


def write(path: Path | None, text: str) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
