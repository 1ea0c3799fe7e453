"""Synthetic data (template, self-instruct, evolve), review-based preferences, data hooks."""

from __future__ import annotations

import json
import random

from ftp import hookimpl
from ftp.plugins.data.api import import_dataset, load_records, resolve_dataset
from ftp.plugins.data.synth import (
    evolve_loop,
    parse_evolved,
    parse_task,
    self_instruct_loop,
    task_problem,
)

SPEC = """
[slots]
product = ["router", "modem", "phone"]
issue = ["is slow", "does not start"]

[[templates]]
instruction = "Classify the ticket: my {{ product }} {{ issue }}."
output = '{"product": "{{ product }}"}'
"""

SEEDS = [{"instruction": "Give three tips for staying healthy.", "input": "",
          "output": "Eat well, sleep, move."},
         {"instruction": "Translate 'good morning' into French.", "input": "",
          "output": "Bonjour."}]


def test_template_generator_is_deterministic_and_versioned(project, invoke):
    (project.root / "spec.toml").write_text(SPEC)
    first = invoke("data", "generate", "template", "--n", "4", "--spec", "spec.toml")
    assert first.exit_code == 0, first.output
    second = invoke("data", "generate", "template", "--n", "4", "--spec", "spec.toml")
    assert second.exit_code == 0, second.output
    a, b = resolve_dataset(project, "template@1"), resolve_dataset(project, "template@2")
    assert a["content_hash"] == b["content_hash"] and a["counts"]["total"] == 4
    record = load_records(project, "template@1", "all")[0]
    assert record["instruction"].startswith("Classify the ticket: my ")
    assert json.loads(record["output"])["product"] in ("router", "modem", "phone")
    tags = json.loads(project.store.db["examples"].get(1)["tags"])
    assert tags == ["generated", "generator:template"]
    everything = invoke("data", "generate", "template", "--n", "100", "--spec", "spec.toml",
                        "--name", "all")
    assert everything.exit_code == 0 and resolve_dataset(project, "all")["counts"]["total"] == 6


def test_parse_and_filters_of_self_instruct():
    task = parse_task("1. Instruction: List two prime numbers below ten.\nInput: <noinput>\n"
                      "Output: 2 and 3.\n2. Instruction: another one")
    assert task == {"instruction": "List two prime numbers below ten.", "input": "",
                    "output": "2 and 3."}
    assert parse_task("gibberish without fields") is None
    assert task_problem({"instruction": "Draw a picture of a cat please", "output": "x"}) \
        == "blacklisted word"
    assert task_problem({"instruction": "Too short", "output": "x"}) == "length"
    assert task_problem({"instruction": "- List three colours now", "output": "x"}) == "format"


def test_self_instruct_loop_keeps_only_new_valid_tasks():
    outputs = iter([
        "Instruction: Give three tips for staying very healthy.\nOutput: Sleep.",  # ROUGE
        "no structure at all",                                                     # parse
        "Instruction: Name the largest planet of the solar system.\nOutput: Jupiter.",
        "Instruction: Name the largest planet in our solar system.\nOutput: Jupiter.",  # ROUGE
        "Instruction: Write a haiku about autumn leaves falling.\nOutput: Leaves...",
    ] + ["junk"] * 50)

    def complete(prompts):
        assert all("Instruction:" in p for p in prompts)
        return [next(outputs) for _ in prompts]

    kept, rejected = self_instruct_loop(complete, SEEDS, n=2, rng=random.Random(0), batch=1)
    assert [k["instruction"] for k in kept] == ["Name the largest planet of the solar system.",
                                                 "Write a haiku about autumn leaves falling."]
    assert rejected["ROUGE-L >= 0.7"] == 2 and rejected["unparseable"] == 1
    assert rejected["attempts"] == 5


def test_evolve_loop_rewrites_into_harder_instructions():
    assert parse_evolved("Add 2 and 3.", "Add 2 and 3.") == (None, "unchanged")
    assert parse_evolved("Add 2 and 3.", "Sorry, I cannot.")[1] == "refusal"
    rewrites = iter(["#Rewritten Instruction#: Add 2 and 3.",
                     "Add 2 and 3, then explain each step of the addition in one sentence."])
    prompts_seen = []

    def complete(prompts):
        prompts_seen.extend(prompts)
        return [next(rewrites)]

    kept, rejected = evolve_loop(complete, [{"instruction": "Add 2 and 3.", "output": "5"}],
                                 n=1, rng=random.Random(1), answer=lambda p: ["5, because..."])
    assert kept[0]["instruction"].startswith("Add 2 and 3, then explain")
    assert kept[0]["output"] == "5, because..."
    assert rejected["unchanged"] == 1 and "#Given Instruction#" in prompts_seen[0]


def test_self_instruct_with_a_real_local_model(project, invoke, tiny_model):
    """The tiny model writes gibberish: every attempt is rejected, clearly, nothing stored."""
    path = project.root / "seeds.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in SEEDS))
    import_dataset(project, path)
    before = project.store.db["examples"].count
    result = invoke("data", "generate", "self-instruct", "--n", "1", "--model",
                    str(tiny_model), "--max-new-tokens", "8")
    assert result.exit_code == 2, result.output
    assert "self-instruct: no usable records after 10 attempts (rejected: unparseable 10)" \
        in result.output
    assert project.store.db["examples"].count == before


def test_preferences_from_human_reviews(project, invoke):
    db = project.store.db
    run = project.store.start_run("eval")
    ids = project.store.add_samples(run.id, [
        {"task": "t", "doc_id": str(i), "prompt": f"Summarise ticket {i // 2}",
         "output": f"answer {i}"} for i in range(6)])
    db["preferences"].insert_all([
        {"prompt": "", "sample_a": ids[0], "sample_b": ids[1], "chosen": "a"},
        {"prompt": "Summarise ticket one", "sample_a": ids[2], "sample_b": ids[3],
         "chosen": "b"},
        {"prompt": "", "sample_a": ids[4], "sample_b": ids[5], "chosen": "tie"}])
    result = invoke("data", "import", "--from-reviews")
    assert result.exit_code == 0, result.output
    dataset = resolve_dataset(project, "reviews")
    records = load_records(project, dataset["id"], "all")
    assert dataset["format"] == "preference" and dataset["meta"]["ties"] == [3]
    assert {(r["prompt"], r["chosen"], r["rejected"]) for r in records} == {
        ("Summarise ticket 0", "answer 0", "answer 1"),
        ("Summarise ticket one", "answer 3", "answer 2")}


class UpperFormat:
    """A third-party record format: {"q": ..., "a": ...}."""

    required = ("q", "a")

    def detect(self, record):
        return set(record) == {"q", "a"}

    def validate(self, record):
        return {"format": "prompt_completion", "prompt": record["q"],
                "completion": record["a"].upper()}


class DataPlugin:
    @hookimpl
    def register_data_sources(self, register):
        def read_lines(path, **_):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                question, answer = line.split("|")
                yield number, {"q": question, "a": answer}

        register("pipes", read_lines, description="q|a lines")

    @hookimpl
    def register_record_formats(self, register):
        register("qa-upper", UpperFormat())

    @hookimpl
    def register_formatters(self, register):
        register("arrow", lambda record, tok: (f"{record['prompt']} -> ", record["completion"]))

    @hookimpl
    def register_generators(self, register):
        def counting(project, n=3, **_):
            for i in range(n):
                yield {"prompt": f"Count to {i} please", "completion": " ".join(
                    str(j) for j in range(i + 1))}

        register("counting", counting)


def test_hook_register_data_sources(project, register_plugin):
    register_plugin(DataPlugin(), "data-plugin")
    (project.root / "d.txt").write_text("What is up?|the sky\nWho are you?|a test\n")
    dataset = import_dataset(project, project.root / "d.txt", source_kind="pipes")
    assert dataset["counts"]["total"] == 2


def test_hook_register_record_formats(project, register_plugin):
    register_plugin(DataPlugin(), "data-plugin")
    (project.root / "d.jsonl").write_text(json.dumps({"q": "Why?", "a": "because"}) + "\n")
    dataset = import_dataset(project, project.root / "d.jsonl", fmt="qa-upper")
    assert load_records(project, dataset["id"], "all")[0]["completion"] == "BECAUSE"


def test_hook_register_formatters(register_plugin, tiny_model):
    from transformers import AutoTokenizer

    from ftp.plugins.data.api import encode_records

    register_plugin(DataPlugin(), "data-plugin")
    tok = AutoTokenizer.from_pretrained(str(tiny_model))
    record = {"format": "prompt_completion", "prompt": "ping", "completion": "pong"}
    example = encode_records([record], tok, template="arrow").examples[0]
    assert tok.decode(example["input_ids"]) == "ping -> pong<|im_end|>"


def test_hook_register_generators(project, invoke, register_plugin):
    register_plugin(DataPlugin(), "data-plugin")
    result = invoke("data", "generate", "counting", "--n", "3")
    assert result.exit_code == 0, result.output
    assert resolve_dataset(project, "counting")["counts"]["total"] == 3
