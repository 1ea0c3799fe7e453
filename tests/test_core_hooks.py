"""Each capability hook, exercised through the command or API that consumes it, with a
plugin registered for one test exactly as a third-party package's would be."""

from __future__ import annotations

import json
from pathlib import Path

import ftp


def _write_jsonl(path: Path, n: int = 24) -> Path:
    rows = [{"instruction": f"Repeat the number {i}.", "output": f"The number is {i}."}
            for i in range(n)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_hook_register_model_providers(register_plugin, tiny_model):
    from ftp.plugins.models import load_model, resolve_model

    class TeamModels:
        def resolve(self, ref: str) -> Path | None:
            return tiny_model if ref == "team/tiny-v1" else None

        def list(self) -> list[dict]:
            return [{"name": "team/tiny-v1", "path": str(tiny_model)}]

    class Provider:
        @ftp.hookimpl
        def register_model_providers(self, register):
            register("team", TeamModels(), description="the team's model share")

    register_plugin(Provider(), name="team-models")
    assert resolve_model("team/tiny-v1") == tiny_model
    model, tokenizer = load_model("team/tiny-v1")
    assert model.config.num_hidden_layers == 2 and tokenizer.eos_token == "<|im_end|>"


def test_hook_register_pii_detectors(register_plugin):
    from presidio_analyzer import Pattern, PatternRecognizer

    from ftp.config import defaults
    from ftp.privacy import build_scrubber

    class EmployeeIds:
        @ftp.hookimpl
        def register_pii_detectors(self, register):
            register("employee_id", PatternRecognizer(
                supported_entity="EMPLOYEE_ID",
                patterns=[Pattern("employee id", r"\bEMP-\d{6}\b", 0.9)]))

    register_plugin(EmployeeIds(), name="employee-ids")
    scrubber = build_scrubber(defaults()["privacy"])
    scrubbed = scrubber.scrub_text("Ticket raised by EMP-123456, mail jo@example.com")
    assert "EMP-123456" not in scrubbed and "<EMPLOYEE_ID>" in scrubbed
    assert "jo@example.com" not in scrubbed
    assert scrubber.report()["entities"]["EMPLOYEE_ID"] == 1


class _HeadOnlyTrainer:
    """A third-party method: trains only the output head, with plain torch."""

    def __init__(self) -> None:
        self.seen: dict = {}

    def __call__(self, job) -> dict:
        import torch

        from ftp.plugins.models import load_model

        model, tokenizer = load_model(job.model_ref)
        for parameter in model.parameters():
            parameter.requires_grad = False
        model.lm_head.weight.requires_grad = True
        optimizer = torch.optim.SGD([model.lm_head.weight], lr=0.5)
        losses = []
        for example in job.train_data[:4]:
            ids = torch.tensor([example["input_ids"]])
            loss = model(input_ids=ids, labels=torch.tensor([example["labels"]])).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            job.log(len(losses), {"loss": loss.item()})
        job.final_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(job.final_dir)
        tokenizer.save_pretrained(job.final_dir)
        self.seen = {"examples": len(job.train_data), "method": job.method}
        return {"final_loss": losses[-1], "steps": len(losses),
                "final_model": str(job.final_dir)}


def test_hook_register_trainers(project, register_plugin, tiny_model, invoke):
    trainer = _HeadOnlyTrainer()

    class Plugin:
        @ftp.hookimpl
        def register_trainers(self, register):
            register("head-only", trainer, description="train the output head only")

    register_plugin(Plugin(), name="head-only")
    assert invoke("data", "import", str(_write_jsonl(project.root / "d.jsonl"))).exit_code == 0
    result = invoke("train", "--method", "head-only", "--model", str(tiny_model))
    assert result.exit_code == 0, result.output
    run = project.store.get_run("latest")
    assert run.kind == "train" and run.status == "finished" and run.summary["steps"] == 4
    assert trainer.seen["method"] == "head-only" and trainer.seen["examples"] > 4
    assert len(project.store.metrics(run.id, "loss")) == 4


class _PromptLength:
    """A third-party evaluator: mean prompt length in tokens, one sample per prompt."""

    prompts = ("Classify this ticket.", "Summarise the email in one line.", "Hi")

    def __call__(self, job) -> list[dict]:
        _, tokenizer = job.model_and_tokenizer()
        counts = [len(tokenizer(prompt)["input_ids"]) for prompt in self.prompts]
        job.samples["prompt_length"] = [
            {"doc_id": str(i), "prompt": p, "output": "", "scores": {"tokens": c}}
            for i, (p, c) in enumerate(zip(self.prompts, counts, strict=True))]
        return [{"task": "prompt_length", "metric": "tokens", "value": sum(counts) / 3,
                 "stderr": None, "n": 3}]


def _register_prompt_length(register_plugin) -> None:
    class Plugin:
        @ftp.hookimpl
        def register_evaluators(self, register):
            register("prompt_length", _PromptLength(), description="prompt length in tokens")

    register_plugin(Plugin(), name="prompt-length")


def test_hook_register_evaluators(project, register_plugin, tiny_model, invoke):
    _register_prompt_length(register_plugin)
    result = invoke("eval", str(tiny_model), "--suite", "prompt_length", "--json")
    assert result.exit_code == 0, result.output
    run = project.store.get_run("latest")
    (row,) = project.store.eval_results(run.id)
    assert row["task"] == "prompt_length" and row["n"] == 3 and row["value"] > 1
    assert len(project.store.samples(run.id, "prompt_length")) == 3


def test_hook_ftp_gate_decided(project, register_plugin, tiny_model, invoke):
    _register_prompt_length(register_plugin)
    decisions = []

    class Observer:
        @ftp.hookimpl
        def ftp_gate_decided(self, project, run, decision):
            decisions.append((run.kind, decision["gate"], decision["passed"]))

    register_plugin(Observer(), name="gate-observer")
    gates = project.root / "gates.toml"
    gates.write_text('[[gate]]\nname = "short prompts"\ntask = "prompt_length"\n'
                     'metric = "tokens"\nmin = 1\n')
    assert invoke("eval", str(tiny_model), "--suite", "prompt_length",
                  "--gates", str(gates)).exit_code == 0
    gates.write_text(gates.read_text().replace("min = 1", "min = 1000"))
    assert invoke("eval", str(tiny_model), "--suite", "prompt_length",
                  "--gates", str(gates)).exit_code == 1
    assert decisions == [("eval", "short prompts", True), ("eval", "short prompts", False)]
