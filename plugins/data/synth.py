"""Model-based generators and ``generate``: run a generator, tag its records, import them.

``self-instruct`` (Wang et al., 2022): show the model a few seed tasks, parse the new task
it writes, keep it if it passes length and format checks and its ROUGE-L similarity to
every instruction so far is below 0.7. ``evolve`` (Evol-Instruct, Xu et al., 2023):
rewrite a seed instruction with one of four operations (add constraints, deepen,
concretise, increase reasoning steps), drop rewrites that gain nothing, then answer it.
The loops take a ``complete(prompts) -> texts`` callable, so they are tested with scripted
outputs as well as with a real local model.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import torch
from rouge_score import rouge_scorer

from ftp.api import Project, Tokenizer
from ftp.errors import UserError
from ftp.plugins.data.catalog import load_records
from ftp.plugins.data.formats import format_of
from ftp.plugins.data.importer import import_records
from ftp.plugins.generation.batch import generate_many
from ftp.plugins.models import load_model
from ftp.registry import get

Complete = Callable[[list[str]], list[str]]
ROUGE_LIMIT = 0.7
BLACKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files",
             "map", "maps", "draw", "plot", "go to", "video", "audio", "music", "flowchart",
             "diagram")
EVOLUTIONS = {
    "add constraints": "Add one more constraint or requirement to it.",
    "deepen": "Increase the depth and breadth of the question it asks.",
    "concretise": "Replace general concepts with more specific ones.",
    "increase reasoning": "Make it explicitly require several steps of reasoning.",
}
_TASK = re.compile(r"Instruction:\s*(?P<instruction>.+?)\s*(?:\n\s*Input:\s*(?P<input>.*?))?"
                   r"\s*\n\s*Output:\s*(?P<output>.+)", re.DOTALL | re.IGNORECASE)


def parse_task(text: str) -> dict[str, str] | None:
    """``Instruction: ... / Input: ... / Output: ...`` -> an alpaca record, or None."""
    match = _TASK.search(text)
    if match is None:
        return None
    output = re.split(r"\n\s*(?:\d+\.\s*)?Instruction:", match["output"])[0].strip()
    task_input = (match["input"] or "").strip()
    if task_input.lower() in ("<noinput>", "none", "n/a", "-"):
        task_input = ""
    return {"instruction": match["instruction"].strip(), "input": task_input,
            "output": output}


def task_problem(task: dict[str, str]) -> str | None:
    """Why a generated task is rejected (length, format, blacklist), or None."""
    instruction = task["instruction"]
    words = instruction.split()
    if not 3 <= len(words) <= 150:
        return "length"
    if not task["output"].strip():
        return "empty output"
    lowered = instruction.lower()
    if any(re.search(rf"\b{re.escape(word)}\b", lowered) for word in BLACKLIST):
        return "blacklisted word"
    if not instruction[0].isascii() or not instruction[0].isalnum():
        return "format"
    return None


class RougeFilter:
    """Rejects an instruction too similar (ROUGE-L F >= limit) to any kept so far."""

    def __init__(self, existing: list[str], limit: float = ROUGE_LIMIT) -> None:
        self.scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
        self.kept = list(existing)
        self.limit = limit

    def too_similar(self, instruction: str) -> bool:
        return any(self.scorer.score(old, instruction)["rougeL"].fmeasure >= self.limit
                   for old in self.kept)

    def keep(self, instruction: str) -> None:
        self.kept.append(instruction)


def self_instruct_prompt(examples: list[dict[str, str]]) -> str:
    shown = "\n\n".join(
        f"Instruction: {e['instruction']}\nInput: {e.get('input') or '<noinput>'}\n"
        f"Output: {e['output']}" for e in examples)
    return ("Come up with a new, different task and its answer. Here are examples:\n\n"
            f"{shown}\n\nWrite one new task in exactly the same format "
            "(Instruction, Input, Output).")


def self_instruct_loop(complete: Complete, seeds: list[dict[str, str]], n: int,
                       rng: random.Random, batch: int = 4, max_attempts: int | None = None,
                       shots: int = 3) -> tuple[list[dict[str, str]], Counter]:
    """Generated tasks that pass every filter, and a count of rejections by reason."""
    rouge = RougeFilter([s["instruction"] for s in seeds])
    kept: list[dict[str, str]] = []
    rejected: Counter = Counter()
    attempts, limit = 0, max_attempts or max(10, 5 * n)
    while len(kept) < n and attempts < limit:
        size = min(batch, limit - attempts)
        prompts = [self_instruct_prompt(rng.sample(seeds, min(shots, len(seeds))))
                   for _ in range(size)]
        attempts += size
        for text in complete(prompts):
            task = parse_task(text)
            reason = "unparseable" if task is None else task_problem(task)
            if reason is None and rouge.too_similar(task["instruction"]):
                reason = "ROUGE-L >= 0.7"
            if reason is not None:
                rejected[reason] += 1
            elif len(kept) < n:
                rouge.keep(task["instruction"])
                kept.append(task)
    rejected["attempts"] = attempts
    return kept, rejected


def evolve_prompt(instruction: str, operation: str) -> str:
    return ("Rewrite the instruction below into a harder version that a person could "
            f"still answer. {EVOLUTIONS[operation]} Reply with the rewritten instruction "
            f"only.\n\n#Given Instruction#:\n{instruction}\n\n#Rewritten Instruction#:\n")


def parse_evolved(original: str, text: str) -> tuple[str | None, str | None]:
    """The rewritten instruction, or None and why it is eliminated."""
    rewritten = text.split("#Rewritten Instruction#:")[-1].strip().strip('"').strip()
    lowered = rewritten.lower()
    if not rewritten:
        return None, "empty"
    if "given instruction" in lowered or "rewritten instruction" in lowered:
        return None, "copied the prompt"
    if lowered.startswith(("sorry", "i'm sorry", "i cannot", "as an ai")):
        return None, "refusal"
    if " ".join(lowered.split()) == " ".join(original.lower().split()):
        return None, "unchanged"
    if len(rewritten.split()) < len(original.split()):
        return None, "not harder (shorter)"
    return rewritten, None


def evolve_loop(complete: Complete, seeds: list[dict[str, str]], n: int,
                rng: random.Random, answer: Complete | None = None
                ) -> tuple[list[dict[str, str]], Counter]:
    """Evolved instructions with answers; rejections counted by reason."""
    answer = answer or complete
    kept: list[dict[str, str]] = []
    rejected: Counter = Counter()
    attempts, limit = 0, max(10, 3 * n)
    while len(kept) < n and attempts < limit:
        seed = seeds[attempts % len(seeds)]
        operation = rng.choice(sorted(EVOLUTIONS))
        attempts += 1
        rewritten, reason = parse_evolved(seed["instruction"],
                                          complete([evolve_prompt(seed["instruction"],
                                                                  operation)])[0])
        if rewritten is None:
            rejected[reason] += 1
            continue
        output = answer([rewritten])[0].strip()
        if not output or output.lower().startswith(("sorry", "i'm sorry", "i cannot")):
            rejected["no answer"] += 1
            continue
        kept.append({"instruction": rewritten, "input": "", "output": output,
                     "evolution": operation, "evolved_from": seed["instruction"]})
    rejected["attempts"] = attempts
    return kept, rejected


# running with a local model ---------------------------------------------------------------


def model_completer(project: Project, model: str | None, max_new_tokens: int = 256,
                    seed: int = 0, batch_size: int = 8) -> tuple[Complete, str]:
    """``complete(prompts)`` sampling from a local model (its chat template if it has one),
    through the batched generation loop the evaluators use."""
    ref = model or project.config["model"]["path"]
    lm, tokenizer = load_model(ref, project)
    lm.eval()
    torch.manual_seed(seed)

    def complete(prompts: list[str]) -> list[str]:
        texts = [_as_chat(tokenizer, p) for p in prompts]
        found = generate_many(lm, tokenizer, texts, max_new_tokens, batch_size, 1,
                              do_sample=True, temperature=0.7, top_p=0.9)
        return [answers[0][0] for answers in found]

    return complete, str(ref)


def _as_chat(tokenizer: Tokenizer, prompt: str) -> str:
    if getattr(tokenizer, "chat_template", None):
        from ftp.plugins.data.formatters import render_chat

        return render_chat(tokenizer, [{"role": "user", "content": prompt}],
                           add_generation_prompt=True)
    return prompt


def seed_tasks(project: Project, seeds: str | None) -> list[dict[str, str]]:
    """Seed tasks from a dataset's train split, as alpaca-shaped dicts."""
    records = [r for r in load_records(project, seeds, "train") if r["format"] != "text"]
    if not records:
        raise UserError("no seed tasks: the dataset has no instruction records",
                        hint="import some examples first, or pass --seeds DATASET")
    return [{"instruction": format_of(r).prompt(r), "input": "",
             "output": format_of(r).response(r)} for r in records]


class Generated(list):
    """Records plus what made them: the model reference and the rejection counts."""

    def __init__(self, records: list[dict[str, Any]], model: str | None = None,
                 rejected: dict[str, int] | None = None) -> None:
        super().__init__(records)
        self.model, self.rejected = model, rejected or {}


def _checked(kept: list[dict[str, str]], rejected: Counter, name: str, ref: str) -> Generated:
    if not kept:
        reasons = ", ".join(f"{k} {v}" for k, v in rejected.items() if k != "attempts")
        raise UserError(f"{name}: no usable records after {rejected['attempts']} attempts "
                        f"(rejected: {reasons or 'none'})",
                        hint="use a stronger model (--model), more seeds, or a larger --n")
    return Generated(kept, ref, dict(rejected))


def self_instruct(project: Project, n: int = 10, seeds: str | None = None,
                  model: str | None = None, seed: int = 0, max_new_tokens: int = 256,
                  **_: Any) -> list[dict[str, str]]:
    complete, ref = model_completer(project, model, max_new_tokens, seed)
    kept, rejected = self_instruct_loop(complete, seed_tasks(project, seeds), n,
                                        random.Random(seed))
    return _checked(kept, rejected, "self-instruct", ref)


def evolve(project: Project, n: int = 10, seeds: str | None = None, model: str | None = None,
           seed: int = 0, max_new_tokens: int = 256, **_: Any) -> list[dict[str, str]]:
    complete, ref = model_completer(project, model, max_new_tokens, seed)
    kept, rejected = evolve_loop(complete, seed_tasks(project, seeds), n,
                                 random.Random(seed))
    return _checked(kept, rejected, "evolve", ref)


def generate(project: Project, generator: str, *, n: int, name: str | None = None,
             **options: Any) -> dict[str, Any]:
    """Run ``generator`` and import its records as a new version of dataset ``name``."""
    if n <= 0:
        raise UserError(f"--n must be positive, got {n}")
    function = get("generators", generator)
    produced = function(project, n=n, **options)
    records = list(produced)
    model = getattr(produced, "model", None)
    tags = ["generated", f"generator:{generator}"] + ([f"model:{model}"] if model else [])
    pairs = ((f"{generator}:{i}", record) for i, record in enumerate(records, 1))
    settings = {k: str(v) for k, v in options.items() if v is not None}
    return import_records(project, pairs, source=f"generate:{generator}",
                          name=name or generator, tags=tags,
                          meta={"generator": generator, "model": model, "requested": n,
                                "rejected": getattr(produced, "rejected", {})},
                          config={"generator": generator, "n": n, **settings})
