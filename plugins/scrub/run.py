"""What `ftp scrub` does: stream a file through a scrubber, or evaluate one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftp.errors import UserError
from ftp.output import echo_table
from ftp.plugins.scrub.evaluate import evaluate, load_labelled
from ftp.plugins.scrub.files import RecordWriter, atomic_output, detect_format, read_records
from ftp.privacy import build_scrubber
from ftp.privacy.corpus import ALLOW_TERMS, generate
from ftp.progress import info, progress


def run_scrub(path: Path, output: Path, settings: dict[str, Any], fmt: str,
              fields: list[str] | None, report_path: Path | None) -> dict[str, Any]:
    """Scrub ``path`` into ``output`` (all or nothing); returns the report."""
    if output.resolve() == path.resolve():
        raise UserError(f"{output}: the output would overwrite the input")
    fmt = detect_format(path) if fmt == "auto" else fmt
    records = read_records(path, fmt)
    first = next(records, None)  # bad input fails before the model loads
    scrubber = build_scrubber(settings)
    for warning in scrubber.warnings:
        info(f"warning: {warning}")
    with atomic_output(output) as handle:
        writer = RecordWriter(handle, fmt)
        stream = _chain(first, records)
        for record in scrubber.scrub_records(progress(stream, desc="scrub", unit="records"),
                                             fields=fields):
            if record is not None:
                writer.write(record)
    report = {"input": str(path), "output": str(output), "format": fmt, **scrubber.report()}
    if report_path is not None:
        from ftp.plugins.scrub.files import write_json

        write_json(report_path, report)
    _echo_report(report)
    if (missing := scrubber.never_found()) is not None:
        info(f"warning: {missing}")
    return report


def _chain(first: Any, rest: Any):
    if first is not None:
        yield first
    yield from rest


def _echo_report(report: dict[str, Any]) -> None:
    rows = [{"entity": entity, "found": count, "operator": report["operators"].get(entity, "")}
            for entity, count in report["entities"].items()]
    echo_table(rows, ("entity", "found", "operator"), empty="No PII found.")
    info(f"{report['records']} records, {report['dropped']} dropped, tier {report['tier']}; "
         f"wrote {report['output']}")


def run_evaluation(source: str, settings: dict[str, Any],
                   report_path: Path | None) -> dict[str, Any]:
    """Precision/recall/F2 per entity on a labelled file (or the built-in corpus)."""
    if source == "builtin":
        samples = generate(3000, seed=0)
        settings = {**settings, "allow_list": [*settings.get("allow_list", []), *ALLOW_TERMS]}
    else:
        samples = load_labelled(Path(source))
    scrubber = build_scrubber(settings)
    result = evaluate(scrubber, samples, settings.get("allow_list") or [])
    rows = [{"entity": entity, **scores} for entity, scores in result["entities"].items()]
    echo_table(rows, ("entity", "labelled", "found", "precision", "recall", "f2"))
    info(f"{result['samples']} samples, tier {result['tier']}, "
         f"{result['allow_list_false_positives']} findings on allow-listed terms")
    if report_path is not None:
        from ftp.plugins.scrub.files import write_json

        write_json(report_path, result)
    return result
