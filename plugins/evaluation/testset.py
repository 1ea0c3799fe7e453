"""The ``testset`` evaluator: generate answers for the project's test split and score them.

Prompts come from the data plugin (``prompt_and_reference``: the model's chat template by
default), generation is greedy and batched by prompt length with left padding, and each
document's output is stored (scrubbed by the runner) with its metrics. Optionally K answers
are sampled per prompt (``--samples K``) and a local judge model rates each answer.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch

from ftp.api import Project, Tokenizer
from ftp.errors import UserError
from ftp.plugins.data.api import load_records, prompt_and_reference, resolve_dataset
from ftp.plugins.data.catalog import examples
from ftp.plugins.data.formatters import to_messages
from ftp.plugins.evaluation import metrics
from ftp.plugins.evaluation.job import EvalJob
from ftp.plugins.generation.batch import generate, generate_many

TASK = "testset"


def _records(job: EvalJob) -> list[dict[str, Any]]:
    records = load_records(job.project, split="test")
    if not records:
        raise UserError("the project has no test split to evaluate",
                        hint="import data with `ftp data import FILE` (test_fraction > 0)")
    return records[: job.settings.limit] if job.settings.limit else records


def _template(job: EvalJob) -> str:
    return (job.project.config.get("format") or {}).get("template", "chat_template")


def fingerprint(job: EvalJob) -> str:
    value = {"records": _records(job), "template": _template(job)}
    if job.settings.judge_model:  # a judge retrained at the same path is not served stale
        from ftp.plugins.evaluation.fingerprint import model_hash

        value["judge"] = model_hash(job.settings.judge_model, job.project)
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def evaluate_testset(job: EvalJob) -> list[dict[str, Any]]:
    _, tokenizer = job.model_and_tokenizer()
    records = _records(job)
    pairs = [prompt_and_reference(record, tokenizer, template=_template(job))
             for record in records]
    ids = [str(r.get("id") or r.get("key_hash") or i) for i, r in enumerate(records)]
    return evaluate_pairs(job, ids, pairs, questions=[_question(r, p) for r, (p, _) in
                                                      zip(records, pairs, strict=True)])


def _question(record: dict[str, Any], prompt: str) -> str:
    """What the judge is shown as the question: the user's turns, else the whole prompt."""
    turns = [m["content"] for m in to_messages(record)[:-1] if m.get("role") == "user"]
    return "\n\n".join(str(t) for t in turns) or prompt


def check(project: Project, settings: Any) -> None:
    """Before the eval run is recorded: there is a test split to evaluate."""
    dataset = resolve_dataset(project)
    if next(examples(project, dataset["id"], "test"), None) is None:
        raise UserError(f"dataset {dataset['name']}@{dataset['version']} has no test split "
                        "to evaluate",
                        hint="set data.test_fraction above 0 and import again; check "
                             "data.split_key (`ftp data list` shows the split counts)")


evaluate_testset.fingerprint = fingerprint  # type: ignore[attr-defined]
evaluate_testset.check = check  # type: ignore[attr-defined]
# What gates may name (checked before evaluating): the task and every metric it can report.
evaluate_testset.produces = {TASK: (  # type: ignore[attr-defined]
    "exact_match", "normalized_match", "token_f1", "rouge_l", "json_valid", "field_accuracy",
    "self_consistency", "judge_score", "judge_parsed")}


def evaluate_pairs(job: EvalJob, ids: list[str], pairs: list[tuple[str, str]],
                   task: str = TASK, questions: list[str] | None = None) -> list[dict[str, Any]]:
    """Generate for each (prompt, reference), score, record samples, return result rows.

    With ``settings.samples`` K > 1, K - 1 more answers are sampled per prompt (at
    ``settings.temperature``, seeded) and stored as ``meta.alternatives``: the
    ``inconsistent`` categorizer and the ``self_consistency`` metric read them. With
    ``settings.judge_model`` set, the judge rates every greedy answer.
    """
    model, tokenizer = job.model_and_tokenizer()
    settings = job.settings
    prompts = [p for p, _ in pairs]
    outputs = generate(model, tokenizer, prompts, settings.max_new_tokens, settings.batch_size)
    alternatives = sample_answers(model, tokenizer, prompts, settings) \
        if settings.samples > 1 else [[] for _ in prompts]
    per_doc, samples = [], []
    for doc_id, (prompt, reference), (output, used), others in zip(
            ids, pairs, outputs, alternatives, strict=True):
        scores = metrics.score(output, reference)
        meta = {"generated": True, "output_tokens": used,
                "max_new_tokens": settings.max_new_tokens}
        if others:
            meta["alternatives"] = others
            scores["self_consistency"] = float(all(
                metrics.normalise(o) == metrics.normalise(output) for o in others))
        per_doc.append(scores)
        samples.append({"doc_id": doc_id, "prompt": prompt, "output": output,
                        "reference": reference, "scores": scores, "meta": meta})
    if settings.judge_model:
        from ftp.plugins.evaluation.judge import judge_samples

        judge_samples(job, samples, questions or prompts)
    job.add_samples(task, samples)
    return [{"task": task, **row} for row in metrics.aggregate([s["scores"] for s in samples])]


def sample_answers(model: Any, tokenizer: Tokenizer, prompts: list[str], settings: Any) -> list[list[str]]:
    """``settings.samples - 1`` sampled answers per prompt (seeded, so runs repeat)."""
    torch.manual_seed(settings.seed)
    found = generate_many(model, tokenizer, prompts, settings.max_new_tokens,
                          settings.batch_size, settings.samples - 1, do_sample=True,
                          temperature=settings.temperature, top_k=0, top_p=1.0)
    return [[text for text, _ in answers] for answers in found]
