"""Training throughput on CPU: ftp's trainer against plain Trainer + PEFT with padding.

Same model, same LoRA (r=16, all linear layers), same variable-length instruction-like data
(log-normal lengths, median ~250 tokens), same seed, hence the same batches; each arm runs
in its own process so peak memory is its own, and the arms alternate ``--repeats`` times so
a change in the machine's load hits both. The ftp arm is ``engine.FtpTrainer`` as
``ftp train`` runs it: one flat row per step with per-example attention, LM head only at
labelled positions, LoRA updates added inside the base output. Reports real (non-padding) tokens/s per arm (median over timed steps
after a warm-up step, by wall clock and by process CPU time, which a shared machine's load
disturbs less), their ratio, peak RSS, the load average, and the loss difference between
ftp's and the padded computation on identical batches.

    python benchmarks/train.py [--quick] [--models tiny,smollm2-135m-instruct:4]
    (NAME:BATCH sets one model's batch size; --batch the others')
"""

from __future__ import annotations

import argparse
import contextlib
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

    from ftp.plugins.training.callbacks import TokenCounter
    from ftp.plugins.training.engine import FtpTrainer, segment_attention
    from ftp.plugins.training.lora_fused import fused_lora
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

    if arm == "ftp":
        inner = PackingCollator(pad, flat=True)
    else:
        tokenizer.pad_token_id = pad
        inner = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)

    def collate(examples):
        tokens.append(sum(len(e["input_ids"]) for e in examples))
        return inner(examples)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    class Timer(TrainerCallback):
        def __init__(self):
            self.times, self.cpu, self.start, self.cpu_start = [], [], 0.0, 0.0

        def on_step_begin(self, *a, **k):
            sync()
            self.start, self.cpu_start = time.perf_counter(), time.process_time()

        def on_step_end(self, *a, **k):
            sync()
            self.times.append(time.perf_counter() - self.start)
            self.cpu.append(time.process_time() - self.cpu_start)

    timer = Timer()
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, per_device_train_batch_size=batch,
                                 max_steps=steps + 1, learning_rate=1e-4, logging_steps=1,
                                 save_strategy="no", report_to=[], use_cpu=not cuda, seed=0,
                                 bf16=dtype == "bfloat16" and cuda,
                                 data_seed=0, remove_unused_columns=False, disable_tqdm=True,
                                 dataloader_num_workers=0)
        with segment_attention(model, arm == "ftp"), \
                (fused_lora(model) if arm == "ftp" else contextlib.nullcontext()):
            if arm == "ftp":
                trainer = FtpTrainer(model=model, args=args, train_dataset=data,
                                     data_collator=collate, callbacks=[timer],
                                     tokens=TokenCounter())
            else:
                trainer = Trainer(model=model, args=args, train_dataset=data,
                                  data_collator=collate, callbacks=[timer])
            trainer.train()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    peak_gpu = round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None
    return {"step_seconds": timer.times, "step_cpu_seconds": timer.cpu, "tokens": tokens,
            "losses": losses,
            "parameters": sum(p.numel() for p in model.parameters()),
            "peak_gpu_mb": peak_gpu,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def loss_difference(folder: str, batch: int, median: int) -> float:
    """|ftp loss - padded full-logits loss| on the same batch, same weights (no training)."""
    import torch
    from transformers import AutoModelForCausalLM

    from ftp.plugins.training.engine import segment_attention
    from ftp.plugins.training.loss import response_loss
    from ftp.plugins.training.packing import PackingCollator, PaddingCollator

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    examples = synthetic_examples(batch, model.config.vocab_size, median, seed=1)
    padded = PaddingCollator(0)(examples)
    padded.pop("num_real_tokens")
    flat = PackingCollator(0, flat=True)(examples)
    flat.pop("num_real_tokens")
    with torch.no_grad():
        reference = model(**padded, use_cache=False).loss.item()
        with segment_attention(model, True):
            ours = response_loss(model, flat)[0].item()
    return abs(ours - reference)


def summarise(runs: list[dict]) -> dict:
    """Medians over the timed steps (all but each run's first) of every repeat."""
    rates, cpu_rates, steps = [], [], []
    for arm in runs:
        for sec, cpu, tok in list(zip(arm["step_seconds"], arm["step_cpu_seconds"],
                                      arm["tokens"], strict=False))[1:]:
            rates.append(tok / sec)
            cpu_rates.append(tok / cpu)
            steps.append(sec)
    first = runs[0]
    timed = [(sum(arm["tokens"][1:]), sum(arm["step_seconds"][1:])) for arm in runs]
    return {"real_tokens_per_s": round(statistics.median(rates), 1),
            "real_tokens_per_s_overall": round(sum(t for t, _ in timed)
                                               / sum(s for _, s in timed), 1),
            "real_tokens_per_cpu_s": round(statistics.median(cpu_rates), 1),
            "median_step_s": round(statistics.median(steps), 3),
            "timed_steps": len(rates), "repeats": len(runs),
            "peak_rss_mb": max(arm["peak_rss_mb"] for arm in runs),
            "peak_gpu_mb": first.get("peak_gpu_mb"), "parameters": first.get("parameters"),
            "first_step_loss": first["losses"][0] if first["losses"] else None}


def run_subprocess(arm: str, folder: Path, steps: int, batch: int, median: int, threads: int,
                   dtype: str) -> dict:
    command = [sys.executable, __file__, "--arm", arm, "--folder", str(folder),
               "--steps", str(steps), "--batch", str(batch), "--median", str(median),
               "--threads", str(threads), "--dtype", dtype]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{arm} arm failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_model(name: str, steps: int, batch: int, median: int, threads: int,
                folder: Path | None = None, dtype: str = "float32",
                repeats: int = 1) -> dict | None:
    folder = folder or model_folder(name)
    if folder is None:
        print(f"skipping {name}: not installed (`ftp models pull {name}`)", file=sys.stderr)
        return None
    runs: dict[str, list[dict]] = {"padded": [], "ftp": []}
    loads = [os.getloadavg()[0]]
    for _ in range(repeats):
        for arm in runs:
            runs[arm].append(run_subprocess(arm, folder, steps, batch, median, threads, dtype))
            loads.append(os.getloadavg()[0])
            print(f"{name} {arm}: {summarise(runs[arm][-1:])}", file=sys.stderr)
    arms = {arm: summarise(found) for arm, found in runs.items()}
    padded, ours = arms["padded"], arms["ftp"]
    # the arms train on identical batches: each step's time ratio is a paired measurement
    per_step = [base / mine for a, b in zip(runs["padded"], runs["ftp"], strict=True)
                for base, mine in zip(a["step_seconds"][1:], b["step_seconds"][1:], strict=True)]
    return {"model": name, "batch_size": batch, "median_length": median, "threads": threads,
            "padded_trainer_peft": padded, "ftp": ours,
            "speedup": round(ours["real_tokens_per_s"] / padded["real_tokens_per_s"], 2),
            "speedup_cpu_time": round(ours["real_tokens_per_cpu_s"]
                                      / padded["real_tokens_per_cpu_s"], 2),
            "speedup_overall": round(ours["real_tokens_per_s_overall"]
                                     / padded["real_tokens_per_s_overall"], 2),
            "speedup_per_step_median": round(statistics.median(per_step), 2),
            "speedup_per_step": [round(x, 3) for x in per_step],
            "load_average_1min": [round(x, 2) for x in loads],
            "first_step_loss_difference": abs(ours["first_step_loss"]
                                              - padded["first_step_loss"]),
            "loss_difference_identical_batch": loss_difference(str(folder), batch, median)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, one repeat")
    parser.add_argument("--models", default="tiny,smollm2-135m-instruct:4")
    parser.add_argument("--arm"), parser.add_argument("--folder")
    parser.add_argument("--steps", type=int), parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--median", type=int, default=250)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per arm (1 keeps a shared machine's timings steady)")
    args = parser.parse_args()
    from ftp.offline import go_offline

    go_offline()
    if args.arm:
        print(json.dumps(run_arm(args.arm, args.folder, args.steps, args.batch, args.median,
                                 args.threads, args.dtype)))
        return
    results = []
    repeats = args.repeats or (1 if args.quick else 2)
    for spec in args.models.split(","):  # NAME or NAME:BATCH
        name, _, batch = spec.partition(":")
        batch = int(batch or args.batch)
        steps = args.steps or (3 if args.quick else 4) + (3 if name == "tiny" else 0)
        try:
            found = bench_model(name, steps, batch, args.median, args.threads,
                                repeats=repeats)
        except RuntimeError as error:  # e.g. an arm killed for memory: say so, go on
            found = {"model": name, "batch_size": batch, "error": str(error)[:300]}
        if found:
            results.append(found)
    payload = {"benchmark": "train", "device": "cpu", "cpus": os.cpu_count(),
               "quick": args.quick, "results": results, "target_speedup": 2.0}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
