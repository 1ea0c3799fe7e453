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


ARMS = ("padded", "trl_padded", "trl_padding_free", "trl_bfd", "ftp")
TRL_ARMS = {"trl_padded": {}, "trl_padding_free": {"padding_free": True},
            "trl_bfd": {"packing": True, "packing_strategy": "bfd"}}
MAX_LENGTH = 1024  # the data's cap: nothing is truncated, bfd rows hold whole examples


def run_arm(arm: str, folder: str, steps: int, batch: int, median: int, threads: int,
            dtype: str = "float32", precision: str = "fp32") -> dict:
    """One arm in this process: returns step times, real tokens per step, losses, peak RSS.

    ``precision`` "bf16" trains fp32 weights under bf16 autocast (``bf16=True``), every arm.
    """
    import resource

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.set_num_threads(threads)
    set_seed(0)
    cuda = torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype))
    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token_id = 0
    data = synthetic_examples(batch * (steps + 1), model.config.vocab_size, median)
    timer, tokens = step_timer(cuda), []
    common = dict(per_device_train_batch_size=batch, max_steps=steps + 1, learning_rate=1e-4,
                  logging_steps=1, save_strategy="no", report_to=[], use_cpu=not cuda, seed=0,
                  bf16=precision == "bf16" or (dtype == "bfloat16" and cuda), data_seed=0,
                  disable_tqdm=True, dataloader_num_workers=0)
    with tempfile.TemporaryDirectory() as out:
        build = trl_trainer if arm in TRL_ARMS else hf_trainer
        trainer, rows = build(arm, model, tokenizer, data, dict(common, output_dir=out), timer)
        inner = trainer.data_collator

        def collate(examples):  # real tokens: every id of every example (or packed row)
            tokens.append(sum(len(e["input_ids"]) for e in examples))
            return inner(examples)

        trainer.data_collator = collate
        with trainer_context(arm, model, precision):
            trainer.train()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    peak_gpu = round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None
    return {"step_seconds": timer.times, "step_cpu_seconds": timer.cpu,
            "step_system_seconds": timer.system, "tokens": tokens,
            "losses": losses, "rows_per_step": rows, "precision": precision,
            "parameters": sum(p.numel() for p in model.parameters()),
            "peak_gpu_mb": peak_gpu,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def step_timer(cuda: bool):
    """A callback that records each step's wall, process CPU and system (kernel) seconds."""
    import torch
    from transformers import TrainerCallback

    def sync():
        if cuda:
            torch.cuda.synchronize()

    class Timer(TrainerCallback):
        def __init__(self):
            self.times, self.cpu, self.system = [], [], []
            self.start = self.cpu_start = self.system_start = 0.0

        def on_step_begin(self, *a, **k):
            sync()
            self.start, self.cpu_start = time.perf_counter(), time.process_time()
            self.system_start = os.times().system

        def on_step_end(self, *a, **k):
            sync()
            self.times.append(time.perf_counter() - self.start)
            self.cpu.append(time.process_time() - self.cpu_start)
            self.system.append(os.times().system - self.system_start)

    return Timer()


def trainer_context(arm: str, model, precision: str = "fp32"):
    """ftp's arm trains with ``engine.fast_paths`` as ftp train does: per-example attention,
    the fused LoRA path and, under bf16, the frozen base weights held in bf16."""
    from ftp.plugins.training.engine import fast_paths

    if arm != "ftp":
        return contextlib.nullcontext()
    return fast_paths(model, True, precision == "bf16")


def hf_trainer(arm: str, model, tokenizer, data: list[dict], args: dict, timer):
    """ftp's FtpTrainer on flat rows, or plain Trainer with DataCollatorForSeq2Seq padding."""
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from ftp.plugins.training.callbacks import TokenCounter
    from ftp.plugins.training.engine import FtpTrainer
    from ftp.plugins.training.packing import PackingCollator

    args = TrainingArguments(**args, remove_unused_columns=False)
    if arm == "ftp":
        return FtpTrainer(model=model, args=args, train_dataset=data, callbacks=[timer],
                          data_collator=PackingCollator(tokenizer.pad_token_id, flat=True),
                          tokens=TokenCounter()), args.per_device_train_batch_size
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    return Trainer(model=model, args=args, train_dataset=data, data_collator=collator,
                   callbacks=[timer]), args.per_device_train_batch_size


def trl_trainer(arm: str, model, tokenizer, data: list[dict], args: dict, timer):
    """TRL's SFTTrainer on the same tokenised examples (``labels`` -100 on the prompt, so the
    loss is completion-only), its own collator; gradient checkpointing off (TRL's default is
    on: slower). bfd packs whole examples into 1024-token rows; its rows per step are chosen
    so a step holds about as many real tokens as the other arms' ``batch`` examples."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    rows = args["per_device_train_batch_size"]
    if arm == "trl_bfd":
        mean = sum(len(e["input_ids"]) for e in data) / len(data)
        rows = max(1, round(rows * mean / MAX_LENGTH))
        data = data * 3  # enough packed rows for every step
    # padding_free without packing refuses a max_length; the examples are within it anyway
    length = None if arm == "trl_padding_free" else MAX_LENGTH
    config = SFTConfig(**dict(args, per_device_train_batch_size=rows), max_length=length,
                       gradient_checkpointing=False, dataset_num_proc=None,
                       **TRL_ARMS[arm])
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(data),
                         processing_class=tokenizer, callbacks=[timer])
    return trainer, rows


def loss_difference(folder: str, batch: int, median: int, precision: str = "fp32") -> float:
    """|ftp loss - fp32 padded full-logits loss| on the same batch, same weights (no
    training); ftp's side runs its training paths (``fast_paths``, gradients on, so the bf16
    attention is the one training uses) and with ``precision`` "bf16" under bf16 autocast."""
    import torch
    from transformers import AutoModelForCausalLM

    from ftp.plugins.training.engine import fast_paths
    from ftp.plugins.training.loss import response_loss
    from ftp.plugins.training.packing import PackingCollator, PaddingCollator

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    examples = synthetic_examples(batch, model.config.vocab_size, median, seed=1)
    padded = PaddingCollator(0)(examples)
    padded.pop("num_real_tokens")
    flat = PackingCollator(0, flat=True)(examples)
    flat.pop("num_real_tokens")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    move = lambda batch: {k: v.to(device) for k, v in batch.items()}  # noqa: E731
    with torch.no_grad():
        reference = model(**move(padded), use_cache=False).loss.item()
    with fast_paths(model, True, precision == "bf16"), \
            torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
        ours = response_loss(model, move(flat))[0].item()
    return abs(ours - reference)


CATEGORIES = (  # torch.profiler op name -> where the time goes
    ("matrix multiplies", ("aten::mm", "aten::addmm", "aten::bmm", "aten::addmm_",
                           "aten::matmul", "aten::linear")),
    ("attention", ("scaled_dot_product", "flash_attention", "_efficient_attention")),
    ("cross-entropy and log-softmax", ("log_softmax", "nll_loss", "cross_entropy")),
    ("bf16/fp32 casts", ("aten::to", "aten::_to_copy", "aten::copy_")),
)


def profile_step(folder: str, batch: int, median: int, precision: str,
                 threads: int = 1) -> dict:
    """Where one ftp training step's time goes (forward + backward, torch.profiler, self
    CPU time by operator category); the same model, LoRA, flat row, attention and thread
    count as the arm."""
    import torch

    torch.set_num_threads(threads)
    from peft import LoraConfig, get_peft_model
    from torch.profiler import ProfilerActivity, profile
    from transformers import AutoModelForCausalLM

    from ftp.plugins.training.loss import response_loss
    from ftp.plugins.training.packing import PackingCollator

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    flat = PackingCollator(0, flat=True)(synthetic_examples(batch, model.config.vocab_size,
                                                            median, seed=1))
    flat.pop("num_real_tokens")
    with trainer_context("ftp", model, precision), \
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        response_loss(model, flat)[0].backward()  # warm-up
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            response_loss(model, flat)[0].backward()
    totals: dict[str, float] = {}
    for event in prof.key_averages():
        name = next((label for label, keys in CATEGORIES
                     if any(key in event.key for key in keys)), "other (elementwise, norms, "
                                                                "rotary, SiLU, autograd)")
        totals[name] = totals.get(name, 0.0) + event.self_cpu_time_total
    whole = sum(totals.values()) or 1.0
    return {"precision": precision, "tokens": int(flat["input_ids"].numel()),
            "seconds": round(whole / 1e6, 3),
            "shares": {k: round(v / whole, 3) for k, v in sorted(totals.items(),
                                                                  key=lambda kv: -kv[1])}}


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
            "timed_system_s": round(sum(sum(arm.get("step_system_seconds", [])[1:])
                                        for arm in runs), 2),
            "timed_steps": len(rates), "repeats": len(runs),
            "peak_rss_mb": max(arm["peak_rss_mb"] for arm in runs),
            "peak_gpu_mb": first.get("peak_gpu_mb"), "parameters": first.get("parameters"),
            "first_step_loss": first["losses"][0] if first["losses"] else None}


def run_subprocess(arm: str, folder: Path, steps: int, batch: int, median: int, threads: int,
                   dtype: str, precision: str) -> dict:
    command = [sys.executable, __file__, "--arm", arm, "--folder", str(folder),
               "--steps", str(steps), "--batch", str(batch), "--median", str(median),
               "--threads", str(threads), "--dtype", dtype, "--precisions", precision]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{arm} arm failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_model(name: str, steps: int, batch: int, median: int, threads: int,
                folder: Path | None = None, dtype: str = "float32", repeats: int = 1,
                arms: tuple[str, ...] = ARMS, precisions: tuple[str, ...] = ("fp32",),
                profile: bool = False) -> dict | None:
    """Every arm at every precision, alternating ``repeats`` times; ratios against each."""
    folder = folder or model_folder(name)
    if folder is None:
        print(f"skipping {name}: not installed (`ftp models pull {name}`)", file=sys.stderr)
        return None
    labels = [(arm, p) for p in precisions for arm in arms]
    runs: dict[str, list[dict]] = {label(a, p): [] for a, p in labels}
    loads = [os.getloadavg()[0]]
    for _ in range(repeats):
        for arm, precision in labels:
            key = label(arm, precision)
            runs[key].append(run_subprocess(arm, folder, steps, batch, median, threads, dtype,
                                            precision))
            loads.append(os.getloadavg()[0])
            print(f"{name} {key}: {summarise(runs[key][-1:])}", file=sys.stderr, flush=True)
    found = {"model": name, "batch_size": batch, "median_length": median, "threads": threads,
             "dtype": dtype, "arms": {key: summarise(r) for key, r in runs.items()},
             "load_average_1min": [round(x, 2) for x in loads]}
    found["comparisons"] = {p: compare_arms(runs, found["arms"], arms, p) for p in precisions
                            if "ftp" in arms}
    found["loss_difference_identical_batch"] = {
        p: loss_difference(str(folder), batch, median, p) for p in precisions}
    if profile and "ftp" in arms:  # both precisions where the CPU has bf16 instructions
        found["ftp_step_profile"] = [profile_step(str(folder), batch, median, p, threads)
                                     for p in ("fp32", "bf16")[:2 if cpu_bf16_flags() else 1]]
    return found


def label(arm: str, precision: str) -> str:
    return arm if precision == "fp32" else f"{arm}_{precision}"


def compare_arms(runs: dict, arms: dict, names: tuple[str, ...], precision: str) -> dict:
    """ftp at ``precision`` against every baseline arm at the same precision."""
    ours_key = label("ftp", precision)
    ours, out = arms[ours_key], {}
    for key in (label(name, precision) for name in names if name != "ftp"):
        base = arms[key]
        row = {"speedup": round(ours["real_tokens_per_s"] / base["real_tokens_per_s"], 2),
               "speedup_cpu_time": round(ours["real_tokens_per_cpu_s"]
                                         / base["real_tokens_per_cpu_s"], 2),
               "speedup_overall": round(ours["real_tokens_per_s_overall"]
                                        / base["real_tokens_per_s_overall"], 2),
               "first_step_loss_difference": abs(ours["first_step_loss"]
                                                 - base["first_step_loss"])}
        paired = per_step_ratios(runs[key], runs[ours_key])
        if paired:  # identical batches: each step's time ratio is a paired measurement
            row["speedup_per_step_median"] = round(statistics.median(paired), 2)
        out[key] = row
    trl = [k for k in out if k.startswith("trl_")]
    if trl:
        best = max(trl, key=lambda k: arms[k]["real_tokens_per_s"])
        out["best_trl"] = {"arm": best, **out[best]}
    return out


def per_step_ratios(base_runs: list[dict], our_runs: list[dict]) -> list[float]:
    """Baseline step time / ours over the same batches, when both saw the same tokens."""
    ratios = []
    for a, b in zip(base_runs, our_runs, strict=True):
        if a["tokens"] != b["tokens"]:
            return []
        ratios += [x / y for x, y in zip(a["step_seconds"][1:], b["step_seconds"][1:],
                                         strict=True)]
    return ratios


def cpu_bf16_flags() -> list[str]:
    """The CPU's bf16 instruction flags (lscpu / /proc/cpuinfo): where autocast can pay."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return []
    return sorted({f for f in flags if f in ("avx512_bf16", "amx_bf16")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, one repeat")
    parser.add_argument("--models", default="tiny,smollm2-135m-instruct:4")
    parser.add_argument("--arm"), parser.add_argument("--folder")
    parser.add_argument("--steps", type=int), parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--median", type=int, default=250)
    parser.add_argument("--dtype", default="float32", help="weights' dtype")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--precisions", default="fp32",
                        help="fp32 and/or bf16 (bf16 autocast over fp32 weights), e.g. fp32,bf16")
    parser.add_argument("--out", help="file name under benchmarks/results/")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one ftp step, fp32 and bf16 (where the time goes)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per arm (1 keeps a shared machine's timings steady)")
    args = parser.parse_args()
    from ftp.offline import go_offline

    go_offline()
    if args.arm:
        print(json.dumps(run_arm(args.arm, args.folder, args.steps, args.batch, args.median,
                                 args.threads, args.dtype, args.precisions)))
        return
    results = []
    repeats = args.repeats or (1 if args.quick else 2)
    for spec in args.models.split(","):  # NAME or NAME:BATCH
        name, _, batch = spec.partition(":")
        batch = int(batch or args.batch)
        steps = args.steps or (3 if args.quick else 4) + (3 if name == "tiny" else 0)
        try:
            found = bench_model(name, steps, batch, args.median, args.threads,
                                repeats=repeats, arms=tuple(args.arms.split(",")),
                                precisions=tuple(args.precisions.split(",")),
                                profile=args.profile)
        except RuntimeError as error:  # e.g. an arm killed for memory: say so, go on
            found = {"model": name, "batch_size": batch, "error": str(error)[:300]}
        if found:
            results.append(found)
    payload = {"benchmark": "train", "device": "cpu", "cpus": os.cpu_count(),
               "cpu_bf16": cpu_bf16_flags(), "quick": args.quick, "results": results,
               "target_speedup_vs_best_trl": 3.0}
    out = RESULTS.parent / args.out if args.out else RESULTS  # a name, or an absolute path
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
