"""Installed benchmark data: ``ftp bench import NAME PATH`` and finding it again.

Each benchmark is installed under ``ftp.paths.benchmarks_dir()/<name>/`` as one canonical
jsonl per split (MMLU: one folder per subject) with a ``manifest.json`` of item counts and
file hashes. The config hash of an evaluation includes the manifest, so results computed
on other data are never reused.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftp import paths
from ftp.errors import InputError, NotFound, UserError
from ftp.plugins.evaluation import formats
from ftp.plugins.evaluation.discover import read_splits


@dataclass(frozen=True)
class BenchSpec:
    name: str
    counts: dict[str, int]  # official item count per split
    required: tuple[str, ...]
    normalise: Callable[[dict, Path, int], dict]
    source_hint: str
    file_prefix: str = ""  # e.g. "ARC-Challenge" in the official file names


SPECS: dict[str, BenchSpec] = {
    "arc_challenge": BenchSpec(
        "arc_challenge", {"test": 1172, "validation": 299, "train": 1119}, ("test",),
        formats.arc_row, "the ARC-V1-Feb2018 folder (ARC-Challenge-{Train,Dev,Test}.jsonl) or "
        "a Hugging Face ai2_arc ARC-Challenge parquet/arrow export", "ARC-Challenge"),
    "arc_easy": BenchSpec(
        "arc_easy", {"test": 2376, "validation": 570, "train": 2251}, ("test",),
        formats.arc_row, "the ARC-V1-Feb2018 folder (ARC-Easy-{Train,Dev,Test}.jsonl) or "
        "a Hugging Face ai2_arc ARC-Easy parquet/arrow export", "ARC-Easy"),
    "mmlu": BenchSpec(
        "mmlu", {"test": 14042, "validation": 1531, "dev": 285}, ("test", "dev"),
        formats.mmlu_row, "the hendrycks data folder (data/{dev,val,test}/*.csv) or a "
        "Hugging Face cais/mmlu 'all' parquet/arrow export"),
    "truthfulqa": BenchSpec(
        "truthfulqa", {"validation": 817}, ("validation",), formats.truthfulqa_row,
        "TruthfulQA's data/mc_task.json or a Hugging Face truthful_qa multiple_choice export"),
    "hellaswag": BenchSpec(
        "hellaswag", {"validation": 10042}, ("validation",), formats.hellaswag_row,
        "hellaswag_val.jsonl, the hellaswag_val_full.txt(.bz2) text form, or a Hugging Face "
        "Rowan/hellaswag validation parquet/arrow export"),
}
ALIASES = {"arc": ("arc_easy", "arc_challenge"), "truthfulqa_mc1": ("truthfulqa",),
           "truthfulqa_mc2": ("truthfulqa",)}


def install_dir(name: str) -> Path:
    return paths.benchmarks_dir() / name


def import_hint(name: str) -> str:
    spec = SPECS[name]
    return f"run `ftp bench import {name} PATH` with PATH {spec.source_hint}"


def require(name: str) -> Path:
    """The installed folder of benchmark ``name``, or a NotFound saying how to import it."""
    folder = install_dir(name)
    if not (folder / "manifest.json").is_file():
        raise NotFound(f"benchmark data for {name!r} is not installed in {folder}",
                       hint=import_hint(name))
    return folder


def manifest(name: str) -> dict[str, Any]:
    return json.loads((require(name) / "manifest.json").read_text())


def import_benchmark(name: str, source: Path | str, *, check_counts: bool = True
                     ) -> list[dict[str, Any]]:
    """Install benchmark ``name`` (or ``arc``: both ARC sets) from ``source``."""
    source = Path(source).expanduser().resolve()
    if not source.exists():
        raise UserError(f"{source} does not exist")
    names = ALIASES.get(name, (name,))
    if any(n not in SPECS for n in names):
        known = ", ".join(sorted([*SPECS, "arc"]))
        raise NotFound(f"unknown benchmark {name!r}; known: {known}")
    return [_install(SPECS[n], source, check_counts) for n in names]


def _install(spec: BenchSpec, source: Path, check_counts: bool) -> dict[str, Any]:
    splits = read_splits(spec, source)
    _check(spec, splits, source, check_counts)
    root = paths.benchmarks_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=root))
    hashes = {}
    for split, rows in splits.items():
        for relative, part in _files(spec, split, rows).items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in part)
            target.write_text(text, encoding="utf-8")
            hashes[relative] = hashlib.sha256(text.encode()).hexdigest()
    info = {"name": spec.name, "source": str(source), "sha256": hashes,
            "counts": {split: len(rows) for split, rows in splits.items()}}
    (staging / "manifest.json").write_text(json.dumps(info, indent=2, sort_keys=True))
    target = install_dir(spec.name)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return {**info, "path": str(target)}


def _files(spec: BenchSpec, split: str, rows: list[dict]) -> dict[str, list[dict]]:
    if spec.name != "mmlu":
        return {f"{split}.jsonl": rows}
    by_subject: dict[str, list[dict]] = {}
    for row in rows:
        by_subject.setdefault(row["subject"], []).append(row)
    return {f"{subject}/{split}.jsonl": part for subject, part in by_subject.items()}


def _check(spec: BenchSpec, splits: dict[str, list], source: Path, check_counts: bool) -> None:
    missing = [split for split in spec.required if not splits.get(split)]
    if missing:
        raise InputError(f"no {', '.join(missing)} split found for {spec.name}",
                         path=str(source), hint=import_hint(spec.name))
    if not check_counts:
        return
    for split, rows in splits.items():
        expected = spec.counts.get(split)
        if expected is not None and len(rows) != expected:
            raise InputError(
                f"{spec.name} {split} has {len(rows)} items; the official release has "
                f"{expected}", path=str(source),
                hint="pass --no-check-counts to install a subset or a modified copy")
