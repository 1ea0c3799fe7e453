"""Scoring speed on a GPU: FastLM against lm-eval's HFLM on the four benchmarks in full.

ARC-Easy, ARC-Challenge, HellaSwag, MMLU (57 subjects) and TruthfulQA MC1/MC2, every
document, on a random-initialised Qwen2.5-0.5B-shaped model (weights do not change the
work; ``--dtype float32`` by default so per-choice log-likelihoods can be compared to 1e-4).
HFLM runs at fixed batch sizes (``--batch-sizes``; batch 1 is left out: hours on MMLU) and
at ``batch_size="auto"`` (up to ``--auto-max``), FastLM once per repeat, interleaved, same
run. MMLU is scored 5-shot (FastLM computes each subject's few-shot prefix once). JSON: ``benchmarks/results/eval_gpu.json``.

    python benchmarks/eval_gpu.py              # on a CUDA machine
    python benchmarks/eval_gpu.py --smoke      # tiny shape, a few documents, runs on CPU
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from eval import ROOT, compare, evaluators, install, load_avg, wrappers  # noqa: E402

TASKS = ["arc_easy", "arc_challenge", "hellaswag", "mmlu", "truthfulqa_mc1",
         "truthfulqa_mc2"]


def run_gpu(args: argparse.Namespace) -> None:
    import torch
    from train_gpu import build
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftp.plugins.evaluation import tasks

    names = getattr(args, "tasks", None)
    names = names.split(",") if isinstance(names, str) else TASKS
    install(names)
    shape = "smoke-qwen" if args.smoke else "qwen2.5-0.5b"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = getattr(args, "dtype", None) or "float32"
    folder = build(shape, Path(tempfile.mkdtemp(prefix="ftp-eval-gpu-")), dtype)
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=getattr(torch, dtype))
    model = model.to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    limits = {name: (3 if args.smoke else getattr(args, "limit", None)) for name in names}
    sizes = [int(s) for s in (args.batch_sizes if args.batch_sizes != "8,32,64" or args.smoke
                              else "32,64,128").split(",")]
    repeats = args.repeats or (1 if args.smoke else 3)
    load_before = load_avg()
    configs = wrappers(model, tokenizer, sizes, False, 256 if device == "cuda" else 64,
                       getattr(args, "auto_max", 128) or None)
    result = compare(configs, tasks.build(evaluators(names)).path, names, limits, repeats,
                     shots={n: 5 for n in names if n.startswith("mmlu")})
    result = {"model": f"random-init {shape}", "dtype": dtype, "device": device,
              "mmlu_shots": 5,
              "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu",
              "smoke": args.smoke, "repeats": repeats, "limits": limits,
              "load_average_before": load_before, "load_average_after": load_avg(), **result}
    out = ROOT / "benchmarks" / "results" / (args.out or
                                             ("eval_gpu_smoke.json" if args.smoke
                                              else "eval_gpu.json"))
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("configs", "accuracy")},
                     indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny shape, few docs, CPU ok")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--batch-sizes", default="8,32,64")
    parser.add_argument("--auto-max", type=int, default=128,
                        help="HFLM batch_size=auto's max_batch_size (0: no auto arm)")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--limit", type=int, help="documents per task (default all)")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out")
    args = parser.parse_args()
    from ftp.offline import go_offline

    go_offline()
    os.environ.setdefault("FTP_HOME", str(Path(tempfile.gettempdir()) / "ftp-bench-home"))
    import torch

    torch.set_num_threads(args.threads)
    run_gpu(args)


if __name__ == "__main__":
    main()
