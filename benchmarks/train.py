"""Training throughput on CPU: ftp's packed rows against plain Trainer + PEFT with padding.

Same model, same LoRA (r=16, all linear layers), same variable-length instruction-like data
(log-normal lengths, median ~250 tokens), same seed, hence the same batches; each arm runs
in its own process so peak memory is its own. Reports real (non-padding) tokens/s per arm
(median over timed steps after a warm-up step), their ratio, peak RSS, and the loss
difference between the packed and the padded computation on identical batches.

    python benchmarks/train.py [--quick] [--models tiny,smollm2-135m-instruct]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "train.json"


def synthetic_examples(n: int, vocab: int, median: int, seed: int = 0) -> list[dict]:
    """Instruction-like examples: log-normal total length, a prompt part without loss."""
    rng = random.Random(seed)
    found = []
    for _ in range(n):
        length = max(16, min(1024, int(rng.lognormvariate(0, 0.6) * median)))
        ids = [rng.randrange(5, vocab) for _ in range(length)]
        cut = rng.randint(length // 4, 3 * length // 4)
        found.append({"input_ids": ids, "labels": [-100] * cut + ids[cut:]})
    return found


def model_folder(name: str) -> Path | None:
    if name == "tiny":
        from ftp.testing import build_tiny_model

        return build_tiny_model(Path(tempfile.gettempdir()) / "ftp-bench-tiny", layers=4,
                                hidden=256)
    from ftp.errors import FtpError
    from ftp.plugins.models import resolve_model

    try:
        return resolve_model(name)
    except FtpError:
        return None


def run_arm(arm: str, folder: str, steps: int, batch: int, median: int, threads: int,
            dtype: str = "float32") -> dict:
    """One arm in this process: returns step times, real tokens per step, losses, peak RSS."""
    import resource

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        set_seed,
    )
    from transformers.utils import logging as hf_logging

    from ftp.plugins.training.packing import PackingCollator

    hf_logging.disable_progress_bar()
    torch.set_num_threads(threads)
    set_seed(0)
    cuda = torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype))
    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    data = synthetic_examples(batch * (steps + 1), model.config.vocab_size, median)
    tokens: list[int] = []

    if arm == "packed":
        inner = PackingCollator(pad, row_tokens=2048)
    else:
        tokenizer.pad_token_id = pad
        inner = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)

    def collate(examples):
        tokens.append(sum(len(e["input_ids"]) for e in examples))
        batch_ = inner(examples)
        batch_.pop("num_real_tokens", None)
        return batch_

    def sync():
        if cuda:
            torch.cuda.synchronize()

    class Timer(TrainerCallback):
        def __init__(self):
            self.times, self.start = [], 0.0

        def on_step_begin(self, *a, **k):
            sync()
            self.start = time.perf_counter()

        def on_step_end(self, *a, **k):
            sync()
            self.times.append(time.perf_counter() - self.start)

    timer = Timer()
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, per_device_train_batch_size=batch,
                                 max_steps=steps + 1, learning_rate=1e-4, logging_steps=1,
                                 save_strategy="no", report_to=[], use_cpu=not cuda, seed=0,
                                 bf16=dtype == "bfloat16" and cuda,
                                 data_seed=0, remove_unused_columns=False, disable_tqdm=True,
                                 dataloader_num_workers=0)
        trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=collate,
                          callbacks=[timer])
        trainer.train()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    peak_gpu = round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None
    return {"step_seconds": timer.times, "tokens": tokens, "losses": losses,
            "parameters": sum(p.numel() for p in model.parameters()),
            "peak_gpu_mb": peak_gpu,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def loss_difference(folder: str, batch: int, median: int) -> float:
    """|packed loss - padded loss| on the same batch, same weights (no training)."""
    import torch
    from transformers import AutoModelForCausalLM

    from ftp.plugins.training.packing import PackingCollator, PaddingCollator

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    examples = synthetic_examples(batch, model.config.vocab_size, median, seed=1)
    losses = []
    for collator in (PackingCollator(0, row_tokens=2048), PaddingCollator(0)):
        inputs = collator(examples)
        inputs.pop("num_real_tokens")
        with torch.no_grad():
            losses.append(model(**inputs, use_cache=False).loss.item())
    return abs(losses[0] - losses[1])


def summarise(arm: dict) -> dict:
    timed = list(zip(arm["step_seconds"][1:], arm["tokens"][1:], strict=False))
    rates = [tok / sec for sec, tok in timed]
    return {"real_tokens_per_s": round(statistics.median(rates), 1),
            "median_step_s": round(statistics.median(s for s, _ in timed), 3),
            "timed_steps": len(timed), "peak_rss_mb": arm["peak_rss_mb"],
            "peak_gpu_mb": arm.get("peak_gpu_mb"), "parameters": arm.get("parameters"),
            "first_step_loss": arm["losses"][0] if arm["losses"] else None}


def bench_model(name: str, steps: int, batch: int, median: int, threads: int,
                folder: Path | None = None, dtype: str = "float32") -> dict | None:
    folder = folder or model_folder(name)
    if folder is None:
        print(f"skipping {name}: not installed (`ftp models pull {name}`)", file=sys.stderr)
        return None
    arms = {}
    for arm in ("padded", "packed"):
        command = [sys.executable, __file__, "--arm", arm, "--folder", str(folder),
                   "--steps", str(steps), "--batch", str(batch), "--median", str(median),
                   "--threads", str(threads), "--dtype", dtype]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        arms[arm] = summarise(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"{name} {arm}: {arms[arm]}", file=sys.stderr)
    ratio = arms["packed"]["real_tokens_per_s"] / arms["padded"]["real_tokens_per_s"]
    return {"model": name, "batch_size": batch, "median_length": median, "threads": threads,
            "padded_trainer_peft": arms["padded"], "ftp_packed": arms["packed"],
            "speedup": round(ratio, 2),
            "first_step_loss_difference": abs(arms["packed"]["first_step_loss"]
                                              - arms["padded"]["first_step_loss"]),
            "loss_difference_identical_batch": loss_difference(str(folder), batch, median)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--models", default="tiny,smollm2-135m-instruct")
    parser.add_argument("--arm"), parser.add_argument("--folder")
    parser.add_argument("--steps", type=int), parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--median", type=int, default=250)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    from ftp.offline import go_offline

    go_offline()
    if args.arm:
        print(json.dumps(run_arm(args.arm, args.folder, args.steps, args.batch, args.median,
                                 args.threads, args.dtype)))
        return
    results = []
    for name in args.models.split(","):
        steps = args.steps or (3 if args.quick else 8) + (2 if name == "tiny" else 0)
        found = bench_model(name, steps, args.batch, args.median, args.threads)
        if found:
            results.append(found)
    payload = {"benchmark": "train", "device": "cpu", "quick": args.quick, "results": results,
               "target_speedup": 2.0}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
