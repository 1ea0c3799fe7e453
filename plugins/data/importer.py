"""Import: read, validate, scrub, deduplicate, split and store a dataset version.

One pass over the source, streaming: records flow through the stages in order and are
written in batches, each a short transaction, to a dataset that stays pending (invisible to
readers) until the last one, so memory stays flat as files grow, other commands can write
meanwhile, and a failure at any record stores nothing. Every import is a run of kind ``import``, recorded while it
runs so that a crash or kill leaves a run the store marks failed; bad input (a
``UserError``) removes that run again, so the store is left exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ftp.api import Project, RunRecord
from ftp.boundaries import read_guarded
from ftp.errors import InputError, UserError
from ftp.plugins.data import catalog
from ftp.plugins.data.dedupe import Deduper, record_text
from ftp.plugins.data.settings import check_data, check_split_key
from ftp.plugins.data.splits import assign_split, key_hash, stratify
from ftp.plugins.data.validate import Located, Validator, field_names, parse_mapping
from ftp.privacy import build_scrubber
from ftp.privacy.canaries import canary_records
from ftp.progress import progress
from ftp.store import dumps, now

BATCH = 1000
EXAMPLES_KEPT = 5
# The default caps of `ftp data import` (raise them with --max-line-bytes/--max-field-chars):
# spaCy's NER refuses texts over 1,000,000 characters, and a 50 MB line took 1.27 GB.
MAX_FIELD_CHARS = 1_000_000
MAX_LINE_BYTES = 8_000_000


class ImportReport:
    """Counts and a few examples of everything that did not become a stored example."""

    def __init__(self, skipped_path: Path, source: str = "") -> None:
        self.skipped_path, self.source = skipped_path, source
        self.skipped: list[dict[str, Any]] = []
        self.skipped_count = 0
        self.duplicates: dict[str, list[dict[str, str]]] = {"duplicate": [],
                                                            "near_duplicate": []}
        self.duplicate_counts = {"duplicate": 0, "near_duplicate": 0}
        self.scrub_dropped = 0
        self._skipped_file = None

    def skip(self, location: Any, reason: str) -> None:
        self.skipped_count += 1
        entry = {"location": str(location), "reason": reason}
        if len(self.skipped) < 1000:
            self.skipped.append(entry)
        if self._skipped_file is None:
            self._skipped_file = self.skipped_path.open("w", encoding="utf-8")
        self._skipped_file.write(json.dumps(entry) + "\n")

    def duplicate(self, kind: str, location: Any, first: str) -> None:
        self.duplicate_counts[kind] += 1
        if len(self.duplicates[kind]) < EXAMPLES_KEPT:
            self.duplicates[kind].append({"location": str(location), "duplicate_of": first})

    def close(self) -> None:
        if self._skipped_file is not None:
            self._skipped_file.close()

    def meta(self) -> dict[str, Any]:
        return {
            "skipped": self.skipped_count, "skipped_lines": self.skipped[:50],
            "skipped_file": str(self.skipped_path) if self.skipped_count else None,
            "duplicates": self.duplicate_counts, "duplicate_examples": self.duplicates,
            "scrub_dropped": self.scrub_dropped,
        }


def _scrubbed(pairs: Iterable[Located], scrubber: Any, report: ImportReport
              ) -> Iterator[Located]:
    """Scrub records in the scrubber's batches, keeping each record's location."""
    locations: deque[Any] = deque()

    def records() -> Iterator[dict[str, Any]]:
        for location, record in pairs:
            locations.append(location)
            yield record

    for scrubbed in scrubber.scrub_records(records()):
        location = locations.popleft()
        if scrubbed is None:
            report.scrub_dropped += 1
        else:
            yield location, scrubbed


def _rows(pairs: Iterable[Located], dataset_id: int, settings: dict[str, Any],
          deduper: Deduper, report: ImportReport, tags: list[str]) -> Iterator[dict]:
    idx = 0
    for location, record in pairs:
        if idx == 0:
            check_split_key(record, settings.get("split_key") or "", report.source)
        text = record_text(record)
        repeated = deduper.check(text, location)
        if repeated is not None:
            report.duplicate(repeated[0], location, repeated[1])
            continue
        yield _row(dataset_id, idx, record, settings, location, tags)
        idx += 1


def _row(dataset_id: int, idx: int, record: dict[str, Any], settings: dict[str, Any],
         location: Any, tags: list[str], split: str | None = None) -> dict[str, Any]:
    hashed = key_hash(record, settings["split_key"])
    content = hashlib.sha256(dumps(record).encode()).hexdigest()
    return {
        "dataset_id": dataset_id, "idx": idx, "key_hash": hashed, "content_hash": content,
        "split": split or assign_split(hashed, settings["validation_fraction"],
                                       settings["test_fraction"]),
        "record": json.dumps(record, ensure_ascii=False), "source_location": str(location),
        "tags": json.dumps(tags) if tags else None,
    }


def _write(store: Any, rows: Iterable[dict[str, Any]]) -> int:
    """Insert in chunks, one short transaction each (the write lock is held per chunk)."""
    written, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            with store.transaction() as db:
                db["examples"].insert_all(batch, batch_size=BATCH)
            written, batch = written + len(batch), []
    if batch:
        with store.transaction() as db:
            db["examples"].insert_all(batch, batch_size=BATCH)
    return written + len(batch)


def capped_fields(pairs: Iterable[Located], source: str, limit: int) -> Iterator[Located]:
    """Refuse a record with a text field longer than ``limit`` characters (the NER model's
    limit is 1,000,000, and a runaway field fills memory at every later stage)."""
    for location, record in pairs:
        field, size = _longest(record)
        if size > limit:
            line, prefix = (location, "") if isinstance(location, int) else (None,
                                                                             f"{location}: ")
            raise InputError(f"{prefix}field {field_names([field])} is {size:,} characters, "
                             f"over the limit of {limit:,}", path=source, line=line,
                             hint="split the text into shorter records, or raise the limit "
                                  "with `ftp data import --max-field-chars N`")
        yield location, record


def _longest(value: Any, name: str = "") -> tuple[str, int]:
    if isinstance(value, str):
        return name, len(value)
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    best = ("", 0)
    for key, item in items:
        found = _longest(item, f"{name}.{key}" if name else str(key))
        if found[1] > best[1]:
            best = found
    return best


def _add_canaries(project: Project, db: Any, dataset_id: int, start: int,
                  settings: dict[str, Any]) -> int:
    count = int(project.config["privacy"].get("canaries") or 0)
    if count <= 0:
        return 0
    seed = int(project.config["train"].get("seed", 0))
    records = canary_records(project, dataset_id, count, seed)
    rows = [_row(dataset_id, start + i, {"format": "alpaca", "input": "", **record}, settings,
                 f"canary:{i + 1}", ["canary"], split="train")
            for i, record in enumerate(records)]
    db["examples"].insert_all(rows)
    return len(rows)


def import_records(project: Project, pairs: Iterable[Located], *, source: str, name: str,
                   fmt: str = "auto", mapping: Any = None, on_error: str = "fail",
                   tags: list[str] | None = None, meta: dict[str, Any] | None = None,
                   config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Store ``(location, raw record)`` pairs as a new version of dataset ``name``."""
    run_config = {"source": source, "name": name, "format": fmt, "on_error": on_error,
                  "map": parse_mapping(mapping), **(config or {})}
    check_data(project.config["data"], project.config_path)
    run = None
    try:
        with project.run("import", config=run_config) as run:
            dataset_id = _store(project, run, pairs, run_config, tags or [], meta)
            project.store.update_run(run.id, dataset_id=dataset_id)
            dataset = catalog.resolve_dataset(project, dataset_id)
            run.summary.update({"dataset_id": dataset_id, "dataset": catalog.label(dataset),
                                **dataset["counts"]})
    except UserError:
        if run is not None:
            _forget_run(project, run)
        raise
    return dataset


def _store(project: Project, run: RunRecord, pairs: Iterable[Located], run_config: dict[str, Any],
           tags: list[str], meta: dict[str, Any] | None) -> int:
    """Validate, scrub, deduplicate and write; the new dataset's id.

    The dataset is written in chunks, each its own short transaction, behind a pending flag
    (no content hash yet: every reader skips it), so other commands can write to the store
    while a long import runs. The last transaction sets the hash and the dataset appears; a
    failure removes what was written, and a killed import's pending rows are removed when
    the store is next opened.
    """
    settings = dict(project.config["data"])
    source, fmt = run_config["source"], run_config["format"]
    report = ImportReport(Path(run.artifacts_path) / "skipped.jsonl", source)
    scrubber = build_scrubber(project.config["privacy"])
    # a skip reason names the field and the problem; a plugin format's may quote the value
    validator = Validator(source, fmt, run_config["map"], run_config["on_error"],
                          lambda location, reason: report.skip(location,
                                                               scrubber.redact(reason)))
    deduper = Deduper(float(settings.get("near_duplicate_threshold", 0.9)))
    store = project.store
    with store.transaction() as db:
        dataset_id = _new_dataset(db, run_config["name"], source)
        store.update_run(run.id, dataset_id=dataset_id)
    try:
        capped = capped_fields(read_guarded(source, pairs), source,
                               int(run_config.get("max_field_chars") or MAX_FIELD_CHARS))
        stream = _scrubbed(validator(capped), scrubber, report)
        rows = _rows(progress(stream, desc="import", unit="records"), dataset_id,
                     settings, deduper, report, tags)
        written = _write(store, rows)
        if written == 0:
            raise InputError(f"no records to store ({_lost(validator, report)})", path=source)
        with store.transaction() as db:
            canaries = _add_canaries(project, db, dataset_id, written, settings)
            if settings.get("stratify"):
                stratify(db, dataset_id, settings["stratify"],
                         settings["validation_fraction"], settings["test_fraction"])
        contamination = catalog.contamination(store.db, dataset_id, settings,
                                              flag=lambda ids: _flag_in_one(store, ids))
        extra = {**report.meta(), **(meta or {}), "canaries": canaries, "tags": tags,
                 "read": validator.read, "contamination": contamination,
                 "split_warnings": split_warnings(store.db, dataset_id, settings),
                 "privacy_warnings": scrubber.warnings_so_far()}
        with store.transaction() as db:
            catalog.finish_dataset(db, dataset_id, validator.fmt or fmt,
                                   scrubber.report(), extra)
    except BaseException:
        discard_dataset(store, dataset_id)
        raise
    finally:
        report.close()
        deduper.close()
    return dataset_id


def _flag_in_one(store: Any, ids: set[int]) -> None:
    with store.transaction() as db:  # one commit, not one per flagged example
        catalog.flag_contaminated(db, ids)


def discard_dataset(store: Any, dataset_id: int) -> None:
    """Remove a pending dataset's rows (its examples, canaries, the run's link to it)."""
    with store.transaction() as db:
        store.unlink_dataset(dataset_id)
        db.execute("delete from examples where dataset_id = ?", [dataset_id])
        if "canaries" in db.table_names():
            db.execute("delete from canaries where dataset_id = ?", [dataset_id])
        db.execute("delete from datasets where id = ? and content_hash is null", [dataset_id])


def _forget_run(project: Project, run: RunRecord) -> None:
    """Remove the failed run of a rejected input, and its folder (skipped lines).

    The data was removed with its pending dataset; the run row was committed at the start
    so that a crash or kill is still seen as a failed run. A run something else refers to
    (the stage of an `ftp run` pipeline) stays, marked failed.
    """
    project.store.forget_run(run)


def _lost(validator: Validator, report: ImportReport) -> str:
    return (f"read {validator.read}, skipped {validator.skipped}, scrubber dropped "
            f"{report.scrub_dropped}, duplicates {sum(report.duplicate_counts.values())}")


def split_warnings(db: Any, dataset_id: int, settings: dict[str, Any]) -> list[str]:
    """Warnings for a split that came out empty although its fraction is above 0, and for a
    split key with fewer distinct values than the splits need."""
    counts = dict(db.execute("select split, count(*) from examples where dataset_id = ? "
                             "group by split", [dataset_id]).fetchall())
    keys = db.execute("select count(distinct key_hash) from examples where dataset_id = ? "
                      "and (tags is null or tags not like '%canary%')",
                      [dataset_id]).fetchone()[0]
    wanted = {"train": 1.0, "validation": float(settings.get("validation_fraction", 0)),
              "test": float(settings.get("test_fraction", 0))}
    key = settings.get("split_key") or "the whole prompt"
    found = []
    needed = sum(1 for fraction in wanted.values() if fraction > 0)
    if keys < needed:
        found.append(f"the split key ({key}) has {keys} distinct value(s), fewer than the "
                     f"{needed} splits need: every example with one key lands in one split")
    for split, fraction in wanted.items():
        if fraction > 0 and not counts.get(split):
            found.append(f"the {split} split is empty (fraction {fraction:g})")
    return found


def _new_dataset(db: Any, name: str, source: str) -> int:
    parent = next(db["datasets"].rows_where("name = ?", [name], order_by="version desc",
                                            limit=1), None)
    row = {"name": name, "version": (parent["version"] + 1) if parent else 1,
           "parent_id": parent["id"] if parent else None, "source": source,
           "created_at": now()}
    return db["datasets"].insert(row).last_pk
