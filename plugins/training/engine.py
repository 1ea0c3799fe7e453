"""The supervised training loop: Hugging Face ``Trainer`` with our packing collator.

``FtpTrainer`` differs from ``Trainer`` in counting real tokens (the collator tells it how
many are not padding), in computing the LM head only at labelled positions (``loss.py``),
and, with packing on a model that uses transformers' attention interface, in training on
one flat row per step with per-example attention (``attention.py``). LoRA layers add their
update inside the base output (``lora_fused.py``); under bf16 autocast their frozen base
weights are held in bf16 (``frozen_bf16.py``).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from transformers import EarlyStoppingCallback, Trainer, TrainingArguments

from ftp.api import Tokenizer
from ftp.errors import CheckFailed, UserError
from ftp.plugins.training import attention
from ftp.plugins.training.callbacks import (
    CheckpointMarker,
    NanGuard,
    StoreMetrics,
    TokenCounter,
    last_complete_checkpoint,
    step_of,
)
from ftp.plugins.training.distributed import fsdp_sharded, world_size
from ftp.plugins.training.frozen_bf16 import frozen_weights_in_bf16
from ftp.plugins.training.fused_head import fused_head
from ftp.plugins.training.job import TrainJob
from ftp.plugins.training.lora_fused import fused_lora
from ftp.plugins.training.loss import accepts_logits_to_keep, response_loss
from ftp.plugins.training.packing import PackingCollator, PaddingCollator
from ftp.plugins.training.progress import install as install_progress


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]


class FtpTrainer(Trainer):
    """``Trainer`` that counts real (non-padding) tokens for tokens/s."""

    def __init__(self, *args: Any, tokens: TokenCounter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tokens = tokens
        self.kept_logits = accepts_logits_to_keep(self.model)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        real = inputs.pop("num_real_tokens", None)
        if real is not None and model.training:
            self.tokens.local += int(real)
        if not self.kept_logits or "labels" not in inputs:
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        loss, outputs = response_loss(model, inputs, num_items_in_batch)
        if (self.args.average_tokens_across_devices and self.model_accepts_loss_kwargs
                and num_items_in_batch is not None):
            loss = loss * self.accelerator.num_processes  # as Trainer: DDP averages grads
        return (loss, outputs) if return_outputs else loss


def training_arguments(job: TrainJob, **extra: Any) -> dict[str, Any]:
    """TrainingArguments keywords shared by the supervised and the DPO trainers."""
    s = job.settings
    cuda = torch.cuda.is_available()
    has_eval = bool(job.eval_data) and not job.dry_run_steps
    values = dict(
        output_dir=str(job.output_dir), per_device_train_batch_size=s["batch_size"],
        per_device_eval_batch_size=s["batch_size"],
        gradient_accumulation_steps=s["gradient_accumulation"],
        learning_rate=s["learning_rate"], num_train_epochs=s["epochs"],
        max_steps=job.dry_run_steps or s["max_steps"], warmup_steps=s["warmup_ratio"],
        seed=s["seed"], data_seed=s["seed"], logging_steps=1, logging_nan_inf_filter=False,
        save_strategy="no" if job.dry_run_steps else "steps", save_steps=s["save_steps"],
        save_total_limit=2, eval_strategy="steps" if has_eval else "no",
        eval_steps=s["eval_steps"], report_to=[], remove_unused_columns=False,
        dataloader_num_workers=0, use_cpu=not cuda, bf16=use_bf16(s.get("precision", "auto")),
        disable_tqdm=True, ddp_backend="gloo" if not cuda and world_size() > 1 else None,
        ddp_find_unused_parameters=False, save_only_model=False, prediction_loss_only=True,
    )
    if fsdp_sharded(s):
        # transformers cannot checkpoint the optimizer state of a model sharded at load time:
        # FSDP checkpoints hold the model only (a NaN stop keeps one; they do not resume)
        values["save_only_model"] = True
    if has_eval and s["early_stopping_patience"]:
        values.update(load_best_model_at_end=True, metric_for_best_model="eval_loss",
                      greater_is_better=False)
    values.update(extra)
    return values


def use_bf16(precision: str) -> bool:
    """bf16 autocast over fp32 weights: asked for, or "auto" on a GPU that supports it.

    On CPU "auto" stays fp32: bf16 pays only with avx512_bf16/amx_bf16 and changes the
    loss in its third decimal (benchmarks/README.md); "bf16" asks for it.
    """
    if precision != "auto":
        return precision == "bf16"
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def collator(job: TrainJob, tokenizer: Tokenizer, flat: bool = False):
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if job.settings["packing"]:
        return PackingCollator(pad, row_tokens=job.settings["pack_tokens"], flat=flat)
    return PaddingCollator(pad)


@contextmanager
def segment_attention(model: Any, wanted: bool):
    """Train with ``ftp_segments`` attention if wanted and possible; restore it after."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if not (wanted and attention.supports_segments(model)):
        yield False
        return
    before = base.config._attn_implementation
    base.set_attn_implementation(attention.register())
    try:
        yield True
    finally:
        base.set_attn_implementation(before)


@contextmanager
def fast_paths(model: Any, packing: bool, bf16: bool) -> Iterator[bool]:
    """What ftp trains with beyond ``Trainer``, all undone after: per-example attention on
    flat rows (yields whether rows are flat), the fused LoRA forward, and under bf16
    autocast the frozen LoRA base weights held in bf16; on CPU the LM head fused with its
    loss."""
    with segment_attention(model, packing) as flat, fused_lora(model), \
            frozen_weights_in_bf16(model, bf16), fused_head(model):
        yield flat


def callbacks(job: TrainJob, tokens: TokenCounter, guard: NanGuard) -> list[Any]:
    found = [StoreMetrics(job, tokens), guard, CheckpointMarker()]
    if job.eval_data and job.settings["early_stopping_patience"] and not job.dry_run_steps:
        found.append(EarlyStoppingCallback(job.settings["early_stopping_patience"]))
    return found


def train_supervised(job: TrainJob, model: Any, tokenizer: Tokenizer) -> dict[str, Any]:
    """Train ``model`` on ``job.train_data`` (``{"input_ids", "labels"}`` lists)."""
    tokens, guard = TokenCounter(), NanGuard()
    bf16 = use_bf16(job.settings.get("precision", "auto")) and not fsdp_sharded(job.settings)
    with fast_paths(model, job.settings["packing"], bf16) as flat:
        trainer = FtpTrainer(
            model=model, args=TrainingArguments(**training_arguments(job)),
            train_dataset=ListDataset(job.train_data),
            eval_dataset=ListDataset(job.eval_data) if job.eval_data else None,
            data_collator=collator(job, tokenizer, flat), callbacks=callbacks(job, tokens, guard),
            tokens=tokens,
        )
        install_progress(trainer)
        return run_trainer(job, trainer, guard, tokens)


def run_trainer(job: TrainJob, trainer: Trainer, guard: NanGuard,
                tokens: TokenCounter) -> dict[str, Any]:
    """Train (resuming if asked), turning NaN and out-of-memory into clear errors."""
    start = time.perf_counter()
    try:
        result = trainer.train(resume_from_checkpoint=_str(job.resume_from))
    except torch.OutOfMemoryError:
        raise UserError("out of memory while training",
                        hint="lower train.batch_size or train.pack_tokens or format.max_length "
                             "(raise gradient_accumulation to keep the effective batch), "
                             "or use --method qlora") from None
    elapsed = time.perf_counter() - start
    if guard.bad_step is not None:
        kept = last_complete_checkpoint(job.output_dir)
        where = f"the last good checkpoint is {kept}" if kept else "no checkpoint was saved yet"
        raise CheckFailed(f"the loss became NaN/inf at step {guard.bad_step}; stopped. {where}",
                          hint="lower train.learning_rate (or check the data), then resume")
    summary = {"train_loss": result.training_loss, "steps": trainer.state.global_step,
               "train_examples": len(job.train_data),
               "real_tokens": tokens.total(), "train_seconds": round(elapsed, 3),
               "tokens_per_s": round(tokens.total() / max(elapsed, 1e-9), 1),
               "peak_memory_mb": peak_memory_mb(),
               "resumed_from_step": step_of(job.resume_from)}
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    if losses:
        summary["final_loss"] = losses[-1]
    evals = [e["eval_loss"] for e in trainer.state.log_history if "eval_loss" in e]
    if evals:
        summary["eval_loss"] = evals[-1]
        summary["best_eval_loss"] = min(evals)
    return summary


def _str(path: Path | None) -> str | None:
    return str(path) if path else None


def peak_memory_mb() -> float:
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
