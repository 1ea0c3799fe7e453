"""Readers that turn benchmark release files into one canonical row shape per benchmark.

The canonical shapes are the Hugging Face datasets' (``allenai/ai2_arc``, ``cais/mmlu``,
``truthful_qa`` multiple_choice, ``Rowan/hellaswag``), so our task definitions use exactly
the fields lm-eval's own do. Each reader accepts the official release format and a Hugging
Face parquet/arrow/jsonl export of the same data.
"""

from __future__ import annotations

import bz2
import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from ftp.errors import InputError
from ftp.plugins.data.sources import read_jsonl

TABLE_SUFFIXES = (".parquet", ".arrow", ".jsonl", ".json")


def read_table(path: Path) -> list[dict[str, Any]]:
    """Rows of a jsonl/json list, parquet or arrow (HF ``datasets`` cache or IPC) file."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return read_jsonl_rows(path)
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise InputError("expected a JSON list of records", path=str(path))
        return data
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if suffix == ".arrow":
        return _read_arrow(path)
    raise InputError(f"unsupported file type {suffix!r}; expected one of {TABLE_SUFFIXES}",
                     path=str(path))


def _read_arrow(path: Path) -> list[dict[str, Any]]:
    with pa.memory_map(str(path)) as source:
        try:
            return pa.ipc.open_stream(source).read_all().to_pylist()
        except pa.ArrowInvalid:
            source.seek(0)
            return pa.ipc.open_file(source).read_all().to_pylist()


def read_jsonl_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file (``.jsonl.bz2`` too), through the data pipeline's reader."""
    return [row for _, row in read_jsonl(path)]


def _fail(path: Path, index: int, message: str) -> InputError:
    return InputError(message, path=str(path), line=index + 1)


# ARC -------------------------------------------------------------------------------------

def arc_row(row: dict[str, Any], path: Path, index: int) -> dict[str, Any]:
    """Official AI2 jsonl (``question.stem``) or HF ``ai2_arc`` row -> HF shape."""
    question = row.get("question")
    if isinstance(question, dict):  # official release
        choices = question.get("choices") or []
        row = {"id": row.get("id"), "question": question.get("stem"),
               "choices": {"text": [c["text"] for c in choices],
                           "label": [c["label"] for c in choices]},
               "answerKey": row.get("answerKey")}
    choices = row.get("choices") or {}
    if not row.get("question") or not choices.get("text") or row.get("answerKey") not in (
            choices.get("label") or []):
        raise _fail(path, index, "not an ARC item (question, choices, answerKey)")
    return {"id": row.get("id"), "question": row["question"],
            "choices": {"text": list(choices["text"]), "label": list(choices["label"])},
            "answerKey": row["answerKey"]}


# MMLU ------------------------------------------------------------------------------------

def read_mmlu_csv(path: Path, subject: str) -> list[dict[str, Any]]:
    """The official headerless csv: question, A, B, C, D, answer letter."""
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        for index, cells in enumerate(csv.reader(handle)):
            if len(cells) != 6 or cells[5] not in "ABCD" or not cells[5]:
                raise _fail(path, index, "expected question,A,B,C,D,answer")
            rows.append({"question": cells[0], "subject": subject, "choices": cells[1:5],
                         "answer": "ABCD".index(cells[5])})
    return rows


def mmlu_row(row: dict[str, Any], path: Path, index: int) -> dict[str, Any]:
    """HF ``cais/mmlu`` row (answer index or letter) -> HF shape."""
    answer = row.get("answer")
    if isinstance(answer, str) and answer in ("A", "B", "C", "D"):
        answer = "ABCD".index(answer)
    if not row.get("question") or len(row.get("choices") or []) != 4 or answer not in range(4):
        raise _fail(path, index, "not an MMLU item (question, subject, 4 choices, answer)")
    return {"question": row["question"], "subject": row.get("subject") or "",
            "choices": list(row["choices"]), "answer": int(answer)}


# TruthfulQA ------------------------------------------------------------------------------

def _targets(value: Any) -> dict[str, list]:
    if isinstance(value, dict) and "choices" in value:
        return {"choices": list(value["choices"]), "labels": [int(x) for x in value["labels"]]}
    if isinstance(value, dict):  # official mc_task.json: {answer: 0/1}, order kept
        return {"choices": list(value), "labels": [int(x) for x in value.values()]}
    raise ValueError("targets must be a map or {choices, labels}")


def truthfulqa_row(row: dict[str, Any], path: Path, index: int) -> dict[str, Any]:
    try:
        return {"question": row["question"], "mc1_targets": _targets(row["mc1_targets"]),
                "mc2_targets": _targets(row["mc2_targets"])}
    except (KeyError, ValueError, TypeError):
        raise _fail(path, index, "not a TruthfulQA MC item (question, mc1/mc2_targets)") from None


# HellaSwag -------------------------------------------------------------------------------

def read_hellaswag_text(path: Path) -> list[dict[str, Any]]:
    """The 6-lines-per-item text form: ``label: context``, gold index, four endings.

    The whole first line becomes ``activity_label: ctx_a`` with an empty ``ctx_b``, so
    lm-eval's ``process_docs`` rebuilds exactly that line as the query.
    """
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) % 6:
        raise InputError(f"expected 6 lines per item, got {len(lines)} lines", path=str(path))
    rows = []
    for index in range(0, len(lines), 6):
        head, gold, *endings = lines[index:index + 6]
        label, _, context = head.partition(": ")
        if not gold.strip().isdigit():
            raise InputError("expected the gold label (0-3)", path=str(path), line=index + 2)
        rows.append({"ind": index // 6, "activity_label": label, "ctx_a": context,
                     "ctx_b": "", "ctx": context, "endings": endings, "label": gold.strip(),
                     "source_id": "", "split": "val", "split_type": "indomain"})
    return rows


def hellaswag_row(row: dict[str, Any], path: Path, index: int) -> dict[str, Any]:
    """Official rowanz jsonl or HF ``Rowan/hellaswag`` row -> HF shape."""
    needed = ("activity_label", "ctx_a", "ctx_b", "endings", "label")
    if any(key not in row for key in needed) or len(row["endings"]) != 4:
        raise _fail(path, index, "not a HellaSwag item (activity_label, ctx_a, ctx_b, "
                                 "endings, label)")
    return {"ind": row.get("ind", index), "activity_label": row["activity_label"],
            "ctx_a": row["ctx_a"], "ctx_b": row["ctx_b"],
            "ctx": row.get("ctx") or f"{row['ctx_a']} {row['ctx_b']}".strip(),
            "endings": list(row["endings"]), "label": str(row["label"]),
            "source_id": row.get("source_id", ""), "split": row.get("split", "val"),
            "split_type": row.get("split_type", "")}
