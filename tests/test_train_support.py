"""Helpers for the training tests: a small in-memory stand-in for the data pipeline's API
(``load_records`` / ``encode_records``) used until a test imports real data, and the
examples it serves. No tests here."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

WORDS = ("refund router billing ticket summary email answer yes no high low product "
         "category priority the quick brown fox jumps over lazy dog").split()


def make_records(n: int, seed: int = 0, kind: str = "alpaca") -> list[dict[str, Any]]:
    rng = random.Random(seed)

    def text(low: int, high: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))

    if kind == "preference":
        return [{"format": "preference", "prompt": text(3, 8), "chosen": text(2, 5),
                 "rejected": text(2, 5)} for _ in range(n)]
    return [{"format": "alpaca", "instruction": text(3, 20), "input": "", "output": text(2, 12)}
            for _ in range(n)]


@dataclass
class Encoded:
    examples: list[dict[str, Any]]
    stats: dict[str, Any] = field(default_factory=dict)


class FakeDataAPI:
    """Serves ``splits`` ({"train": [...], "validation": [...]}) like the data API would."""

    def __init__(self, splits: dict[str, list[dict[str, Any]]]) -> None:
        self.splits = splits

    def load_records(self, project, dataset=None, split="train", fraction=1.0):
        return list(self.splits.get(split, []))

    def encode_records(self, records, tokenizer, *, template="chat_template", max_length=1024,
                       truncation="drop", train_on_responses_only=True):
        examples = []
        for record in records:
            prompt = tokenizer.apply_chat_template(
                [{"role": "user", "content": record["instruction"]}], tokenize=False,
                add_generation_prompt=True)
            response = record["output"] + tokenizer.eos_token
            p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            r_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
            ids = p_ids + r_ids
            if len(ids) > max_length:
                continue
            labels = [-100] * len(p_ids) + r_ids if train_on_responses_only else list(ids)
            examples.append({"input_ids": ids, "labels": labels})
        return Encoded(examples, {"kept": len(examples), "dropped": len(records) - len(examples)})


def install(monkeypatch, splits: dict[str, list[dict[str, Any]]]) -> FakeDataAPI:
    from ftp.plugins.training import data

    fake = FakeDataAPI(splits)
    monkeypatch.setattr(data, "data_api", lambda: fake)
    return fake


def write_config(project, model: str, **train: Any) -> None:
    """Point the project at ``model`` and set [train] keys (small, fast defaults)."""
    values = {"max_steps": 4, "batch_size": 4, "save_steps": 2, "eval_steps": 2,
              "learning_rate": 1e-3, **train}
    lines = [f'[model]\npath = "{model}"\n', "[train]"]
    lines += [f"{k} = {_toml(v)}" for k, v in values.items()]
    project.config_path.write_text("\n".join(lines) + "\n")
    project.__dict__.pop("config", None)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)
