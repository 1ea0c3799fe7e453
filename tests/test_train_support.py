"""Helpers for the training tests: records to import through the real data pipeline, and a
small project config. No tests here."""

from __future__ import annotations

import random
from typing import Any

WORDS = ("refund router billing ticket summary email answer yes no high low product "
         "category priority the quick brown fox jumps over lazy dog").split()


def make_records(n: int, seed: int = 0, kind: str = "alpaca") -> list[dict[str, Any]]:
    rng = random.Random(seed)

    def text(low: int, high: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))

    if kind == "preference":
        return [{"prompt": f"{i}: {text(3, 8)}", "chosen": text(2, 5), "rejected": text(2, 5)}
                for i in range(n)]
    return [{"instruction": f"{i}: {text(3, 20)}", "input": "", "output": text(2, 12)}
            for i in range(n)]


def import_records(project, records: list[dict[str, Any]], name: str = "data") -> int:
    """Write ``records`` as JSONL and import them with the data pipeline; the dataset id."""
    import json

    from ftp.plugins.data.api import import_dataset

    path = project.root / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return import_dataset(project, path, name=name)["id"]


def write_config(project, model: str, **train: Any) -> None:
    """Point the project at ``model`` and set [train] keys (small, fast defaults)."""
    values = {"max_steps": 4, "batch_size": 4, "save_steps": 2, "eval_steps": 2,
              "learning_rate": 1e-3, **train}
    lines = [f'[model]\npath = "{model}"\n',
             "[data]\nvalidation_fraction = 0.15\ntest_fraction = 0.15\n", "[train]"]
    lines += [f"{k} = {_toml(v)}" for k, v in values.items()]
    project.config_path.write_text("\n".join(lines) + "\n")
    project.__dict__.pop("config", None)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def train_tiny(project, tiny_model, invoke, *, steps: int, records: int, name: str) -> dict:
    """A short LoRA run on the tiny model through `ftp train`; its JSON summary."""
    import json

    write_config(project, str(tiny_model), max_steps=steps, learning_rate=5e-3)
    import_records(project, make_records(records))
    result = invoke("-q", "train", "--json", "--name", name)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
