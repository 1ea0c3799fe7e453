"""Helpers shared by the evaluation tests: benchmark data installed once per session, and
lm-eval's own task definitions pointed at the same local files (the fidelity reference)."""

from __future__ import annotations

import json
from pathlib import Path

LM_EVAL_TASKS = {  # our evaluator -> lm-eval's own YAML (inside the installed package)
    "arc_easy": "arc/arc_easy.yaml",
    "arc_challenge": "arc/arc_challenge.yaml",
    "hellaswag": "hellaswag/hellaswag.yaml",
    "truthfulqa_mc1": "truthfulqa/truthfulqa_mc1.yaml",
    "truthfulqa_mc2": "truthfulqa/truthfulqa_mc2.yaml",
}


def install_all(benchdata: Path) -> None:
    from ftp.plugins.evaluation.benchdata import import_benchmark

    for name, folder in (("arc", "arc"), ("mmlu", "mmlu"), ("truthfulqa", "truthfulqa"),
                         ("hellaswag", "hellaswag")):
        import_benchmark(name, benchdata / folder)


def lm_eval_config(name: str, data_dir: Path, yaml: str | None = None) -> dict:
    """lm-eval's own config for ``name`` with only the data source replaced."""
    import lm_eval
    from lm_eval.tasks._yaml_loader import load_yaml

    root = Path(lm_eval.__file__).parent / "tasks"
    config = load_yaml(root / (yaml or LM_EVAL_TASKS[name]))
    files = {p.stem: str(p) for p in sorted(data_dir.glob("*.jsonl"))}
    config.update(dataset_path="json", dataset_name=None, dataset_kwargs={"data_files": files})
    for split in ("training_split", "validation_split", "test_split"):
        if config.get(split) and config[split] not in files:
            config[split] = None
    for key in ("tag", "group"):
        config.pop(key, None)
    return config


def mmlu_config(subject: str, data_dir: Path) -> dict:
    config = lm_eval_config(subject, data_dir / subject, f"mmlu/default/mmlu_{subject}.yaml")
    config.pop("tag", None)
    return config


def manifest(data_dir: Path) -> dict:
    return json.loads((data_dir / "manifest.json").read_text())
