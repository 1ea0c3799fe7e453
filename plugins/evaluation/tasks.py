"""Build lm-eval task folders over the installed benchmark data.

The YAML templates in ``tasks/`` mirror lm-eval's own task definitions; only the data
source differs (``dataset_path: json`` with absolute ``data_files``, which lm-eval needs
absolute). They are filled in at run time and written to a content-addressed folder under
``FTP_HOME/cache/lm_eval_tasks``, which ``TaskManager(include_path=...)`` then reads.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from ftp import paths
from ftp.plugins.evaluation import benchdata

TEMPLATES = Path(__file__).parent / "tasks"
MMLU_CATEGORIES = {
    "stem": "abstract_algebra anatomy astronomy college_biology college_chemistry "
            "college_computer_science college_mathematics college_physics computer_security "
            "conceptual_physics electrical_engineering elementary_mathematics "
            "high_school_biology high_school_chemistry high_school_computer_science "
            "high_school_mathematics high_school_physics high_school_statistics "
            "machine_learning",
    "humanities": "formal_logic high_school_european_history high_school_us_history "
                  "high_school_world_history international_law jurisprudence "
                  "logical_fallacies moral_disputes moral_scenarios philosophy prehistory "
                  "professional_law world_religions",
    "social_sciences": "econometrics high_school_geography "
                       "high_school_government_and_politics high_school_macroeconomics "
                       "high_school_microeconomics high_school_psychology human_sexuality "
                       "professional_psychology public_relations security_studies sociology "
                       "us_foreign_policy",
    "other": "business_ethics clinical_knowledge college_medicine global_facts human_aging "
             "management marketing medical_genetics miscellaneous nutrition "
             "professional_accounting professional_medicine virology",
}
SUBJECT_CATEGORY = {s: cat for cat, subjects in MMLU_CATEGORIES.items() for s in subjects.split()}
BENCHMARKS = {  # evaluator name -> (installed data, template)
    "arc_easy": ("arc_easy", "arc.yaml"),
    "arc_challenge": ("arc_challenge", "arc.yaml"),
    "hellaswag": ("hellaswag", "hellaswag.yaml"),
    "truthfulqa_mc1": ("truthfulqa", "truthfulqa_mc1.yaml"),
    "truthfulqa_mc2": ("truthfulqa", "truthfulqa_mc2.yaml"),
    "mmlu": ("mmlu", None),
}


@dataclass(frozen=True)
class TaskFolder:
    path: Path
    tasks: tuple[str, ...]
    fingerprint: str  # hash of the filled-in YAMLs and the data manifests


def build(names: list[str] | tuple[str, ...]) -> TaskFolder:
    """A task folder defining the benchmarks ``names`` (each one of ``BENCHMARKS``)."""
    files: dict[str, str] = {"utils.py": (TEMPLATES / "utils.py").read_text()}
    manifests = {}
    for name in names:
        data_name, template = BENCHMARKS[name]
        folder = benchdata.require(data_name)
        manifests[data_name] = benchdata.manifest(data_name)["sha256"]
        if template is None:
            files.update(_mmlu_files(folder))
        else:
            files.update(_single(name, template, folder))
            if name == "truthfulqa_mc2":  # it includes mc1's YAML
                files.setdefault("truthfulqa_mc1.yaml", _fill(
                    "truthfulqa_mc1.yaml", "truthfulqa_mc1", folder))
    fingerprint = _hash({"files": files, "data": manifests})
    return TaskFolder(_write(files, fingerprint), tuple(names), fingerprint)


def _single(name: str, template: str, folder: Path) -> dict[str, str]:
    return {f"{name}.yaml": _fill(template, name, folder)}


def _data_files(folder: Path) -> dict[str, str]:
    return {p.stem: str(p.resolve()) for p in sorted(folder.glob("*.jsonl"))}


def _fill(template: str, task: str, folder: Path, **extra: str) -> str:
    data_files = _data_files(folder)
    text = (TEMPLATES / template).read_text()
    values = {"TASK": json.dumps(task), "DATA_FILES": json.dumps(data_files),
              **{key: json.dumps(value) for key, value in extra.items()}}
    for split, key in (("train", "TRAIN"), ("validation", "VALIDATION"), ("test", "TEST")):
        values[key] = split if split in data_files else "null"
    for key, value in values.items():
        text = text.replace(f'"@{key}@"', value)
    return text


def _mmlu_files(folder: Path) -> dict[str, str]:
    files = {}
    for subject, category in sorted(SUBJECT_CATEGORY.items()):
        if not (folder / subject / "test.jsonl").is_file():
            continue
        described = subject.replace("_", " ")
        files[f"mmlu/mmlu_{subject}.yaml"] = _fill(
            "mmlu_subject.yaml", f"mmlu_{subject}", folder / subject,
            DESCRIPTION="The following are multiple choice questions (with answers) about "
                        f"{described}.\n\n",
            TAG=f"mmlu_{category}_tasks", ALIAS=subject)
    for category in MMLU_CATEGORIES:
        files[f"mmlu/_mmlu_{category}.yaml"] = _group(
            f"mmlu_{category}", [f"mmlu_{category}_tasks"], alias=category.replace("_", " "))
    files["mmlu/_mmlu.yaml"] = _group("mmlu", [f"mmlu_{c}" for c in MMLU_CATEGORIES])
    return files


def _group(name: str, members: list[str], alias: str | None = None) -> str:
    """lm-eval's group config: micro-averaged (weighted by the number of documents)."""
    lines = [f"group: {name}"] + ([f"group_alias: {alias}"] if alias else [])
    lines += ["task:"] + [f"  - {member}" for member in members]
    lines += ["aggregate_metric_list:", "  - metric: acc", "    weight_by_size: True",
              "metadata:", "  version: 2"]
    return "\n".join(lines) + "\n"


def _hash(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _write(files: dict[str, str], fingerprint: str) -> Path:
    root = paths.ftp_home() / "cache" / "lm_eval_tasks"
    target = root / fingerprint[:16]
    if (target / ".complete").is_file():
        return target
    staging = root / f".{fingerprint[:16]}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    for relative, text in files.items():
        path = staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (staging / ".complete").write_text(fingerprint)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
