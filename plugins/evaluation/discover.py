"""Find a benchmark's files in what the user points ``ftp bench import`` at, by split."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftp.errors import InputError
from ftp.plugins.evaluation import formats

if TYPE_CHECKING:
    from ftp.plugins.evaluation.benchdata import BenchSpec

DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".arrow", ".csv", ".txt", ".bz2")
SPLIT_TOKENS = {"train": "train", "dev": "dev", "val": "validation", "validation": "validation",
                "test": "test"}
SKIP_TOKENS = {"auxiliary", "manifest", "readme", "license", "state", "dataset_info"}


def read_splits(spec: BenchSpec, source: Path) -> dict[str, list[dict[str, Any]]]:
    """Canonical rows per split for ``spec`` from a file or a folder."""
    splits: dict[str, list[dict[str, Any]]] = {}
    for path in _candidates(spec, source):
        split = _split_of(spec, path, single=source.is_file())
        if split is None:
            continue
        splits.setdefault(split, []).extend(_rows(spec, path, split))
    return splits


def _candidates(spec: BenchSpec, source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    files = sorted(p for p in source.rglob("*") if p.is_file()
                   and any(p.name.lower().endswith(s) for s in DATA_SUFFIXES))
    if spec.file_prefix:
        mine = [p for p in files if spec.file_prefix.lower() in str(p).lower()]
        files = mine or [p for p in files if "arc-" not in str(p).lower()]
    return files


def _tokens(path: Path) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", path.name.lower()))


def _split_of(spec: BenchSpec, path: Path, single: bool) -> str | None:
    tokens = _tokens(path) | ({path.parent.name.lower()} if spec.name == "mmlu" else set())
    if tokens & SKIP_TOKENS:
        return None
    found = [SPLIT_TOKENS[t] for t in SPLIT_TOKENS if t in tokens]
    split = found[0] if found else None
    if split == "dev" and spec.name != "mmlu":
        split = "validation"
    if split is None and (single or path.name == "mc_task.json") and len(spec.counts) == 1:
        split = next(iter(spec.counts))
    if spec.name == "truthfulqa" and path.suffix == ".csv":
        return None  # TruthfulQA.csv is the generation task, not multiple choice
    return split if split in spec.counts else None


def _rows(spec: BenchSpec, path: Path, split: str) -> list[dict[str, Any]]:
    name = path.name.lower()
    if spec.name == "mmlu" and name.endswith(".csv"):
        subject = re.sub(r"_(dev|val|test)$", "", path.stem)
        return formats.read_mmlu_csv(path, subject)
    if spec.name == "hellaswag" and (name.endswith(".txt") or name.endswith(".txt.bz2")):
        return formats.read_hellaswag_text(path)
    if name.endswith(".jsonl.bz2"):
        raw = formats.read_jsonl_rows(path)
    elif path.suffix.lower() in formats.TABLE_SUFFIXES:
        raw = formats.read_table(path)
    else:
        raise InputError(f"cannot read this file as {spec.name} data", path=str(path))
    return [spec.normalise(row, path, index) for index, row in enumerate(raw)]
