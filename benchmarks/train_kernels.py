"""What each of ftp's CPU training kernels buys: one bf16 LoRA step, with and without it.

SmolLM2-135M-Instruct, LoRA r16 on all linear layers, the batch ``train.py --profile``
profiles (batch 8, seed 1: 2,812 tokens in one flat row), forward + backward under bf16
autocast with ``engine.fast_paths`` as ``ftp train`` runs it. Arms, each in its own process
(so memory growth is its own): ``all`` (every kernel), ``no_bf16_attention`` (PyTorch's
flash kernel per example instead of ``cpu_attention``), ``no_fused_head`` (full logits
through ``chunked_ce`` instead of ``fused_head``). Each arm repeats the same batch
``--steps`` times; reported: every step's wall and system (kernel: page faults) seconds,
the median of the steps after the first three (steady state), the loss, peak RSS. One
thread; the load average is recorded. Results: ``results/train_kernels.json``.

    python benchmarks/train_kernels.py [--steps 8]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import model_folder, synthetic_examples, trainer_context  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "train_kernels.json"
ARMS = ("all", "no_bf16_attention", "no_fused_head")
WARM = 3  # steps before the steady state: the process's memory grows in these


def run_arm(arm: str, folder: str, steps: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from ftp.plugins.training import cpu_attention, fused_head
    from ftp.plugins.training.loss import response_loss
    from ftp.plugins.training.packing import PackingCollator

    if arm == "no_bf16_attention":
        cpu_attention.usable = lambda query, dropout: False
    if arm == "no_fused_head":
        fused_head._fusable = lambda model: None
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                             target_modules="all-linear",
                                             task_type="CAUSAL_LM"))
    batch = PackingCollator(0, flat=True)(synthetic_examples(8, model.config.vocab_size, 250,
                                                             seed=1))
    batch.pop("num_real_tokens")
    wall, system = [], []
    with trainer_context("ftp", model, "bf16"), torch.autocast("cpu", dtype=torch.bfloat16):
        for _ in range(steps):
            start, kernel = time.perf_counter(), os.times().system
            loss = response_loss(model, batch)[0]
            loss.backward()
            wall.append(round(time.perf_counter() - start, 3))
            system.append(round(os.times().system - kernel, 3))
    return {"step_seconds": wall, "step_system_seconds": system, "loss": loss.item(),
            "steady_median_s": statistics.median(wall[WARM:]),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--arm"), parser.add_argument("--folder")
    args = parser.parse_args()
    from ftp.offline import go_offline

    go_offline()
    if args.arm:
        print(json.dumps(run_arm(args.arm, args.folder, args.steps)))
        return
    folder = model_folder("smollm2-135m-instruct")
    if folder is None:
        sys.exit("needs smollm2-135m-instruct (`ftp models pull smollm2-135m-instruct`)")
    arms, loads = {}, [os.getloadavg()[0]]
    for arm in ARMS:
        done = subprocess.run([sys.executable, __file__, "--arm", arm, "--folder", str(folder),
                               "--steps", str(args.steps)], capture_output=True, text=True,
                              check=True)
        arms[arm] = json.loads(done.stdout.strip().splitlines()[-1])
        loads.append(os.getloadavg()[0])
        print(arm, arms[arm], file=sys.stderr, flush=True)
    payload = {"benchmark": "train_kernels", "tokens": 2812, "threads": 1, "arms": arms,
               "load_average_1min": [round(x, 2) for x in loads]}
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
