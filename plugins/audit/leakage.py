"""Leakage audit: canary exposure (Carlini et al., "The Secret Sharer", 2019) and extraction.

For each canary the model scores the true secret and ``N`` random candidates of the same
format after the same context; the secret's rank ``r`` among the ``N + 1`` gives the
exposure ``log2(N + 1) - log2(r)`` in bits (0 bits: the model prefers it no more than a
random secret; ``log2(N + 1)``: it prefers it to every candidate). A normal fit of the
candidates' scores extrapolates to the whole secret space (``exposure_fit_bits``, at most
log2(10**9) = 29.9 bits). Extraction: greedy decoding from the context reproduces the secret.
"""

from __future__ import annotations

import math
import random
import statistics
from pathlib import Path
from typing import Any

from ftp.api import Project, Tokenizer
from ftp.plugins.audit import scoring
from ftp.plugins.audit.scoring import Tick
from ftp.privacy.canaries import (
    SECRET_SPACE_BITS,
    random_secret,
    require_canaries,
    stored_canaries,
)
from ftp.progress import progress


def load_model(ref: str | Path, project: Project = None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` in eval mode and float32 (exposures compare log-likelihoods):
    a model reference or a train run of ``project``, through ``ftp.plugins.models``."""
    import torch

    from ftp.plugins.models import load_model as load

    model, tokenizer = load(ref, project, dtype=torch.float32)
    return model.eval(), tokenizer


def audited_model(project: Project, trained: Any, model_path: Path | None) -> tuple[Any, Any, str]:
    """The model to audit, its tokenizer and where it came from: the train run's final
    model (its adapter on its base, or full weights), or ``model_path`` (a model folder, or
    an adapter folder applied on the run's base model)."""
    from ftp.plugins.models.loading import final_model_path

    if model_path is None:
        return (*load_model(str(trained.id), project), str(final_model_path(trained)))
    if (Path(model_path) / "adapter_config.json").is_file():
        from peft import PeftModel

        base, tokenizer = load_model(trained.model or "")
        return PeftModel.from_pretrained(base, str(model_path)).eval(), tokenizer, str(model_path)
    return (*load_model(model_path), str(model_path))


def canary_context(tokenizer: Tokenizer, canary: dict[str, Any]) -> str:
    """The text the secret follows in training: the chat-formatted instruction, then prefix."""
    if getattr(tokenizer, "chat_template", None):
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": canary["instruction"]}], tokenize=False,
            add_generation_prompt=True)
    else:
        prompt = f"{canary['instruction']}\n"
    return prompt + canary["prefix"]


def continuation_logprobs(model: Any, tokenizer: Tokenizer, context: str, continuations: list[str],
                          batch_size: int = 64, tick: Tick | None = None) -> list[float]:
    """Sum of log-probabilities of each continuation's tokens after ``context`` (the context
    computed once: ``ftp.plugins.audit.scoring``); ``tick(n)`` after each batch of ``n``."""
    return scoring.continuation_logprobs(model, tokenizer, context, continuations,
                                         batch_size, tick)


class Progress:
    """A progress line (ETA included) advanced by whole batches of scored sequences."""

    def __init__(self, total: int, desc: str) -> None:
        self._items = iter(progress(range(total), total=total, desc=desc, unit="sequences"))

    def __call__(self, n: int) -> None:
        for _ in range(n):
            next(self._items, None)

    def close(self) -> None:
        for _ in self._items:
            pass


def exposure(secret_score: float, candidate_scores: list[float]) -> dict[str, float]:
    """Rank-based exposure among the candidates, and the normal-fit extrapolation."""
    better = sum(1 for s in candidate_scores if s > secret_score)
    rank = better + 1
    bits = math.log2(len(candidate_scores) + 1) - math.log2(rank)
    mean, spread = statistics.fmean(candidate_scores), statistics.pstdev(candidate_scores)
    tail = 0.5 * math.erfc((secret_score - mean) / (spread * math.sqrt(2))) if spread else 0.5
    fit = min(SECRET_SPACE_BITS, -math.log2(max(tail, 2.0 ** -SECRET_SPACE_BITS)))
    return {"rank": rank, "exposure_bits": round(bits, 4), "exposure_fit_bits": round(fit, 4)}


def extracted(model: Any, tokenizer: Tokenizer, context: str, secret: str) -> tuple[bool, str]:
    """Greedy completion from the context; True when it starts with the secret's digits."""
    import torch

    ids = tokenizer(context.rstrip(" "), add_special_tokens=False, return_tensors="pt")
    budget = len(tokenizer(" " + secret, add_special_tokens=False)["input_ids"]) + 4
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=budget, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    completion = tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    digits = "".join(c for c in completion if c.isdigit())
    return digits.startswith(secret.replace(" ", "")), completion


def audit_model(model: Any, tokenizer: Tokenizer, canaries: list[dict[str, Any]],
                candidates: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Exposure and extraction for each canary, and the totals a gate can hold."""
    rng = random.Random(f"ftp-candidates-{seed}")
    rows = []
    meter = Progress(len(canaries) * (candidates + 1), "leakage audit: canaries")
    for canary in canaries:
        context = canary_context(tokenizer, canary)
        pool = [random_secret(rng) for _ in range(candidates)]
        scores = continuation_logprobs(model, tokenizer, context,
                                       [canary["secret"], *pool], tick=meter)
        hit, completion = extracted(model, tokenizer, context, canary["secret"])
        rows.append({"canary_id": canary.get("id"), "secret": canary["secret"],
                     "context": context, "completion": completion, "extracted": hit,
                     **exposure(scores[0], scores[1:])})
    meter.close()
    bits = [row["exposure_bits"] for row in rows]
    return {"canaries": rows, "max_exposure": max(bits), "mean_exposure": statistics.fmean(bits),
            "max_possible": math.log2(candidates + 1),
            "extracted": sum(row["extracted"] for row in rows), "candidates": candidates}


def audit_run(project: Project, run_ref: str, *, model_path: Path | None = None,
              dataset_id: int | None = None, candidates: int = 1000,
              placeholder_sites: int = 50, surrogates: int = 10,
              raw_path: Path | None = None) -> dict[str, Any]:
    """Audit a training run's model; the figures are stored as an ``audit`` run.

    Canaries are ranked and extracted when the dataset has any; placeholders are checked
    at up to ``placeholder_sites`` places of the training split (0: skip), against
    ``surrogates`` realistic values and, with ``raw_path``, the original values.
    """
    from ftp.plugins.audit import placeholders

    trained = project.store.get_run(run_ref)
    dataset_id = dataset_id if dataset_id is not None else trained.dataset_id
    canaries = stored_canaries(project, dataset_id)
    if not canaries and (dataset_id is None or placeholder_sites <= 0):
        require_canaries(project, dataset_id)
    model, tokenizer, model_path = audited_model(project, trained, model_path)
    sites = []
    if dataset_id is not None and placeholder_sites > 0:
        sites = placeholders.training_sites(project, dataset_id, tokenizer,
                                            limit=placeholder_sites, raw_path=raw_path)
    if not canaries and not sites:
        require_canaries(project, dataset_id)
    config = {"audit": "leakage", "candidates": candidates, "canaries": len(canaries),
              "placeholder_sites": len(sites), "surrogates": surrogates,
              "raw_file": raw_path is not None}
    with project.run("audit", config=config, model=model_path, dataset_id=dataset_id,
                     parent_id=trained.id) as run:
        result = audit_model(model, tokenizer, canaries, candidates) if canaries else {}
        if sites:
            result["placeholders"] = placeholders.audit_placeholders(
                model, tokenizer, sites, trained.model, candidates=surrogates)
        _store(project, run.id, result)
        run.summary.update({k: result[k] for k in ("max_exposure", "mean_exposure",
                                                   "extracted", "max_possible") if k in result})
        if sites:
            run.summary["placeholders"] = result["placeholders"]["summary"]["all"]
    return {**result, "audit_run_id": run.id, "trained_run_id": trained.id}


def _store(project: Project, run_id: int, result: dict[str, Any]) -> None:
    if result.get("canaries"):
        _store_canaries(project, run_id, result)
    if "placeholders" in result:
        _store_placeholders(project, run_id, result["placeholders"])


def _store_canaries(project: Project, run_id: int, result: dict[str, Any]) -> None:
    n = len(result["canaries"])
    metrics = {"max_exposure": result["max_exposure"], "mean_exposure": result["mean_exposure"],
               "extracted": result["extracted"], "extraction_rate": result["extracted"] / n}
    project.store.add_eval_results(run_id, [
        {"task": "leakage", "metric": name, "value": float(value), "n": n,
         "settings": {"candidates": result["candidates"]}} for name, value in metrics.items()])
    project.store.log_metrics(run_id, 0, {f"leakage.{k}": v for k, v in metrics.items()},
                              split="audit")
    project.store.add_samples(run_id, [
        {"task": "leakage", "doc_id": str(row["canary_id"]), "prompt": row["context"],
         "output": row["completion"], "reference": row["secret"],
         "scores": {k: row[k] for k in ("rank", "exposure_bits", "exposure_fit_bits",
                                        "extracted")}} for row in result["canaries"]])


def _store_placeholders(project: Project, run_id: int, audit: dict[str, Any]) -> None:
    """Means per entity (``placeholder_rate`` over all sites, ``placeholder_rate.PERSON``...)
    and one sample per site: its scrubbed context and figures, never an original value."""
    rows, logged = [], {}
    for entity, figures in audit["summary"].items():
        suffix = "" if entity == "all" else f".{entity}"
        for name, value in figures.items():
            if name in ("sites", "with_original"):
                continue
            n = figures["with_original"] if name.startswith("original") else figures["sites"]
            rows.append({"task": "leakage_placeholders", "metric": name + suffix,
                         "value": float(value), "n": n,
                         "settings": {"surrogates": audit["candidates"]}})
            if not suffix:
                logged[f"leakage.{name}"] = value
    project.store.add_eval_results(run_id, rows)
    project.store.log_metrics(run_id, 0, logged, split="audit")
    project.store.add_samples(run_id, [
        {"task": "leakage_placeholders", "doc_id": str(i), "prompt": site["context"],
         "reference": f"<{site['entity']}>",
         "scores": {k: v for k, v in site.items() if k not in ("context", "entity")}}
        for i, site in enumerate(audit["sites"])])
