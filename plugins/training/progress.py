"""Training progress: a bar with loss, real tokens/s and ETA on a terminal; a log line every
few seconds elsewhere (CI logs); nothing with ``--quiet``. Replaces the Trainer's printer,
which prints a dict per step."""

from __future__ import annotations

import sys
import time

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from ftp.progress import info, is_quiet


class TrainProgress(TrainerCallback):
    def __init__(self, log_every_s: float = 10.0) -> None:
        self.bar = None
        self.log_every_s = log_every_s
        self.last_line = 0.0
        self.start = 0.0
        self.postfix: dict[str, str] = {}

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero or is_quiet():
            return
        self.start = self.last_line = time.monotonic()
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="train",
                            unit="step", file=sys.stderr)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        for key, label in (("loss", "loss"), ("tokens_per_s", "tok/s"), ("eval_loss", "val")):
            if isinstance(logs.get(key), (int, float)):
                self.postfix[label] = f"{logs[key]:.4g}"
        if self.bar is not None:
            self.bar.set_postfix(self.postfix, refresh=False)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)
        elif state.is_world_process_zero and not is_quiet():
            now = time.monotonic()
            if now - self.last_line >= self.log_every_s or state.global_step == state.max_steps:
                self.last_line = now
                info(self._line(state, now))

    def _line(self, state, now: float) -> str:
        done, total = state.global_step, state.max_steps
        rate = done / max(now - self.start, 1e-9)
        eta = f", ETA {(total - done) / rate:.0f}s" if rate > 0 else ""
        extra = " ".join(f"{k}={v}" for k, v in self.postfix.items())
        return f"train: step {done}/{total} {extra}{eta}"

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def install(trainer) -> None:
    """Swap the Trainer's own progress printers for ours."""
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(TrainProgress())
