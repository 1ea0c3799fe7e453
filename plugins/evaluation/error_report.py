"""`ftp errors RUN [--compare RUN]`: counts per error category, examples, and changes."""

from __future__ import annotations

import json
from typing import Any

import click

from ftp.output import echo_json, echo_table
from ftp.plugins.evaluation.categorize import categorize_samples
from ftp.project import Project


def category_counts(samples: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Samples per category (from the stored ``categories`` JSON)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for sample in samples:
        for name, reason in json.loads(sample.get("categories") or "{}").items():
            found.setdefault(name, []).append({**sample, "reason": reason})
    return found


def recategorize(store, run_id: int) -> None:
    samples = [s for s in store.samples(run_id)
               if json.loads(s.get("meta") or "{}").get("generated")]
    for sample in samples:
        sample["meta"] = json.loads(sample.get("meta") or "{}")
    categorize_samples(samples)
    with store.transaction():
        for sample in samples:
            store.db["samples"].update(sample["id"],
                                       {"categories": json.dumps(sample["categories"])})


def _samples(store, run_id: int, task: str | None) -> list[dict[str, Any]]:
    return [s for s in store.samples(run_id, task)
            if json.loads(s.get("meta") or "{}").get("generated")]


def show_errors(ref: str, other: str | None, examples: int, task: str | None,
                again: bool, as_json: bool) -> None:
    store = Project.find().store
    run = store.get_run(ref)
    if again:
        recategorize(store, run.id)
    samples = _samples(store, run.id, task)
    found = category_counts(samples)
    report: dict[str, Any] = {"run": run.id, "samples": len(samples), "categories": {
        name: {"count": len(items), "examples": [_example(s) for s in items[:examples]]}
        for name, items in sorted(found.items(), key=lambda kv: -len(kv[1]))}}
    if other:
        second = store.get_run(other)
        theirs = category_counts(_samples(store, second.id, task))
        report["compare"] = {"run": second.id, "changes": _changes(found, theirs)}
    if as_json:
        echo_json(report)
        return
    _print(report)


def _example(sample: dict[str, Any]) -> dict[str, Any]:
    return {"doc_id": sample["doc_id"], "reason": sample["reason"],
            "output": _short(sample.get("output")), "reference": _short(sample.get("reference"))}


def _short(text: str | None, width: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _changes(mine: dict[str, list], theirs: dict[str, list]) -> list[dict[str, Any]]:
    """Per category: count in RUN, in the compared run, and the change (compared - RUN)."""
    rows = []
    for name in sorted(set(mine) | set(theirs)):
        a, b = len(mine.get(name, [])), len(theirs.get(name, []))
        rows.append({"category": name, "first": a, "second": b, "change": b - a})
    return rows


def _print(report: dict[str, Any]) -> None:
    click.echo(f"eval run {report['run']}: {report['samples']} generated samples")
    rows = [{"category": k, "count": v["count"]} for k, v in report["categories"].items()]
    echo_table(rows, ("category", "count"), empty="No errors categorised.")
    for name, value in report["categories"].items():
        for example in value["examples"]:
            click.echo(f"  [{name}] doc {example['doc_id']}: {example['reason']}")
            click.echo(f"      output:    {example['output']}")
            click.echo(f"      reference: {example['reference']}")
    if "compare" in report:
        click.echo(f"\nchanges from run {report['run']} to run {report['compare']['run']}:")
        echo_table(report["compare"]["changes"], ("category", "first", "second", "change"))
