"""Trainer callbacks: metrics to the store, real tokens/s, NaN guard, checkpoint markers.

A checkpoint folder counts only once it holds ``COMPLETE`` (written after everything else,
through a rename), so a process killed while saving never leaves a checkpoint that resume
would trust.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch.distributed as dist
from transformers import TrainerCallback

from ftp.plugins.training.job import TrainJob

COMPLETE = "COMPLETE"


class TokenCounter:
    """Real (non-padding) tokens seen, summed over ranks when logging."""

    def __init__(self) -> None:
        self.local = 0

    def total(self) -> int:
        if dist.is_available() and dist.is_initialized():
            import torch

            value = torch.tensor([self.local], dtype=torch.long)
            dist.all_reduce(value)
            return int(value.item())
        return self.local


class StoreMetrics(TrainerCallback):
    """loss, learning_rate and tokens_per_s per logged step; validation loss on evaluate."""

    def __init__(self, job: TrainJob, tokens: TokenCounter) -> None:
        self.job, self.tokens = job, tokens
        self.last_time = time.perf_counter()
        self.last_tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.last_time, self.last_tokens = time.perf_counter(), self.tokens.total()

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs if logs is not None else {}
        if "loss" not in logs:
            return
        total, now = self.tokens.total(), time.perf_counter()
        if total:
            logs["tokens_per_s"] = round((total - self.last_tokens)
                                         / max(now - self.last_time, 1e-9), 1)
        self.last_tokens, self.last_time = total, now
        if state.is_world_process_zero:
            values = {k: logs[k] for k in ("loss", "learning_rate", "tokens_per_s", "grad_norm")
                      if isinstance(logs.get(k), (int, float))}
            self.job.log(state.global_step, values)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if state.is_world_process_zero and metrics and "eval_loss" in metrics:
            self.job.log(state.global_step, {"loss": metrics["eval_loss"]}, split="validation")


class NanGuard(TrainerCallback):
    """Stops at the first NaN/inf loss and prevents that step from being checkpointed."""

    def __init__(self) -> None:
        self.bad_step: int | None = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if isinstance(loss, float) and not math.isfinite(loss) and self.bad_step is None:
            self.bad_step = state.global_step
        if self.bad_step is not None:
            control.should_save = False
            control.should_evaluate = False
            control.should_training_stop = True
        return control


class CheckpointMarker(TrainerCallback):
    """Marks a checkpoint complete once the Trainer has written all of it."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                mark_complete(folder)


def mark_complete(folder: Path) -> None:
    tmp = folder / f".{COMPLETE}.tmp"
    tmp.write_text(str(time.time()))
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, folder / COMPLETE)


def last_complete_checkpoint(output_dir: Path) -> Path | None:
    """The newest checkpoint marked complete (incomplete ones are ignored)."""
    found = [p for p in output_dir.glob("checkpoint-*") if (p / COMPLETE).is_file()]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


def step_of(checkpoint: Path | None) -> int | None:
    return int(checkpoint.name.split("-")[-1]) if checkpoint else None
