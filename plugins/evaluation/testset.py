"""The ``testset`` evaluator: generate answers for the project's test split and score them.

Prompts come from the data plugin (``prompt_and_reference``: the model's chat template by
default), generation is greedy and batched by prompt length with left padding, and each
document's output is stored (scrubbed by the runner) with its metrics.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ftp.errors import UserError
from ftp.plugins.evaluation import metrics
from ftp.plugins.evaluation.job import EvalJob
from ftp.progress import progress

TASK = "testset"


def _records(job: EvalJob) -> list[dict[str, Any]]:
    from ftp.plugins.data.api import load_records

    records = load_records(job.project, split="test")
    if not records:
        raise UserError("the project has no test split to evaluate",
                        hint="import data with `ftp data import FILE` (test_fraction > 0)")
    return records[: job.settings.limit] if job.settings.limit else records


def _template(job: EvalJob) -> str:
    return (job.project.config.get("format") or {}).get("template", "chat_template")


def fingerprint(job: EvalJob) -> str:
    value = {"records": _records(job), "template": _template(job)}
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def evaluate_testset(job: EvalJob) -> list[dict[str, Any]]:
    from ftp.plugins.data.api import prompt_and_reference

    _, tokenizer = job.model_and_tokenizer()
    records = _records(job)
    pairs = [prompt_and_reference(record, tokenizer, template=_template(job))
             for record in records]
    ids = [str(r.get("id") or r.get("key_hash") or i) for i, r in enumerate(records)]
    return evaluate_pairs(job, ids, pairs)


evaluate_testset.fingerprint = fingerprint  # type: ignore[attr-defined]


def evaluate_pairs(job: EvalJob, ids: list[str], pairs: list[tuple[str, str]],
                   task: str = TASK) -> list[dict[str, Any]]:
    """Generate for each (prompt, reference), score, record samples, return result rows."""
    model, tokenizer = job.model_and_tokenizer()
    outputs = generate(model, tokenizer, [p for p, _ in pairs],
                       job.settings.max_new_tokens, job.settings.batch_size)
    per_doc, samples = [], []
    for doc_id, (prompt, reference), (output, used) in zip(ids, pairs, outputs, strict=True):
        scores = metrics.score(output, reference)
        per_doc.append(scores)
        samples.append({"doc_id": doc_id, "prompt": prompt, "output": output,
                        "reference": reference, "scores": scores,
                        "meta": {"generated": True, "output_tokens": used,
                                 "max_new_tokens": job.settings.max_new_tokens}})
    job.add_samples(task, samples)
    return [{"task": task, **row} for row in metrics.aggregate(per_doc)]


def generate(model: Any, tokenizer: Any, prompts: list[str], max_new_tokens: int,
             batch_size: int) -> list[tuple[str, int]]:
    """Greedy outputs and their token counts, in the order of ``prompts``."""
    import torch

    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    results: dict[int, tuple[str, int]] = {}
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
        tokenizer.eos_token_id
    device = next(model.parameters()).device
    for batch in progress(batches, total=len(batches), desc="generating", unit="batch"):
        width = max(len(encoded[i]) for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, index in enumerate(batch):
            tokens = encoded[index]
            ids[row, width - len(tokens):] = torch.tensor(tokens)
            mask[row, width - len(tokens):] = 1
        with torch.no_grad():
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                 max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=pad, eos_token_id=tokenizer.eos_token_id)
        for row, index in enumerate(batch):
            new = out[row, width:].tolist()
            used = _length(new, tokenizer.eos_token_id, pad)
            results[index] = (tokenizer.decode(new[:used], skip_special_tokens=True).strip(),
                              used)
    return [results[i] for i in range(len(prompts))]


def _length(tokens: list[int], eos: int | None, pad: int | None) -> int:
    for position, token in enumerate(tokens):
        if token == eos or (token == pad and pad != eos):
            return position
    return len(tokens)
