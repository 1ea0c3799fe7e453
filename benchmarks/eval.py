"""Scoring speed: ftp's FastLM against lm-eval's HFLM, same tasks, same run.

ARC-Challenge and a HellaSwag subset through lm-eval (our task folder over the shared
benchmark data). Each model wrapper's ``loglikelihood`` call is timed (tokenisation and
scoring, not dataset loading). Reports requests/s for HFLM at batch size 1 and at the best
fixed batch size, FastLM, the ratios, the largest per-choice log-likelihood difference and
whether accuracies are identical.

    python benchmarks/eval.py [--quick] [--model PATH] [--repeats N]

The model is the SmolLM2-135M default when ``ftp.plugins.models`` can resolve it, else the
tiny test model (the JSON says which).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHDATA = Path(os.environ.get("FTP_BENCHDATA", ROOT.parent / "shared" / "benchdata"))


def pick_model(explicit: str | None) -> tuple[str, str]:
    if explicit:
        return explicit, "given"
    from ftp.plugins.models import resolve_model

    try:
        return str(resolve_model("smollm2-135m-instruct")), "smollm2-135m-instruct"
    except Exception:
        from ftp.testing import build_tiny_model

        path = Path(tempfile.gettempdir()) / "ftp-bench-tiny-llama"
        return str(build_tiny_model(path)), "tiny test model (135M default not installed)"


def timed_run(lm, folder, tasks, limits):
    import lm_eval
    from lm_eval.tasks import TaskManager

    calls = {"seconds": 0.0, "requests": 0, "answers": []}
    original = lm.loglikelihood

    def loglikelihood(requests, *args, **kwargs):
        start = time.perf_counter()
        answers = original(requests, *args, **kwargs)
        calls["seconds"] += time.perf_counter() - start
        calls["requests"] += len(requests)
        calls["answers"].extend((r.args, a[0]) for r, a in zip(requests, answers, strict=True))
        return answers

    lm.loglikelihood = loglikelihood
    accuracy = {}
    for task in tasks:
        out = lm_eval.simple_evaluate(
            model=lm, tasks=[task], limit=limits[task], verbosity="ERROR",
            task_manager=TaskManager(include_path=str(folder), include_defaults=False))
        accuracy[task] = {k: v for k, v in out["results"][task].items()
                          if k in ("acc,none", "acc_norm,none")}
    return calls, accuracy


def measure(factory, folder, tasks, limits, repeats):
    times, last = [], None
    for _ in range(repeats):
        calls, accuracy = timed_run(factory(), folder, tasks, limits)
        times.append(calls["seconds"])
        last = (calls, accuracy)
    seconds = statistics.median(times)
    calls, accuracy = last
    return {"seconds_median": seconds, "seconds_all": times, "requests": calls["requests"],
            "requests_per_s": calls["requests"] / seconds}, accuracy, dict(calls["answers"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small subsets, 1 repeat")
    parser.add_argument("--model")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from ftp.offline import go_offline

    go_offline()
    os.environ.setdefault("FTP_HOME", str(Path(tempfile.gettempdir()) / "ftp-bench-home"))
    import torch

    torch.set_num_threads(args.threads)
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftp.plugins.evaluation import benchdata, tasks
    from ftp.plugins.evaluation.fast_lm import FastLM

    for name, folder in (("arc_challenge", "arc"), ("hellaswag", "hellaswag")):
        if not (benchdata.install_dir(name) / "manifest.json").is_file():
            benchdata.import_benchmark(name, BENCHDATA / folder)
    names = ["arc_challenge", "hellaswag"]
    limits = ({"arc_challenge": 60, "hellaswag": 30} if args.quick else
              {"arc_challenge": None, "hellaswag": 200})
    repeats = args.repeats or (1 if args.quick else 3)
    folder = tasks.build(names).path
    model_path, model_label = pick_model(args.model)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForCausalLM.from_pretrained(model_path).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_path)

    configs = {"hflm_bs1": lambda: HFLM(pretrained=model, tokenizer=tokenizer, batch_size=1)}
    for size in (8, 32, 64):
        configs[f"hflm_bs{size}"] = (lambda s: lambda: HFLM(pretrained=model,
                                                             tokenizer=tokenizer,
                                                             batch_size=s))(size)
    configs["ftp_fastlm"] = lambda: FastLM(pretrained=model, tokenizer=tokenizer, batch_size=64)
    rows, accuracies, answers = {}, {}, {}
    for label, factory in configs.items():
        print(f"running {label}...", file=sys.stderr, flush=True)
        rows[label], accuracies[label], answers[label] = measure(factory, folder, names,
                                                                 limits, repeats)
        print(f"  {rows[label]['requests_per_s']:.1f} requests/s", file=sys.stderr)
    best = max((k for k in rows if k.startswith("hflm_bs") and k != "hflm_bs1"),
               key=lambda k: rows[k]["requests_per_s"])
    reference = answers["hflm_bs1"]
    diff = max(abs(reference[key] - value) for key, value in answers["ftp_fastlm"].items())
    result = {
        "model": model_label, "model_path": model_path, "device": device,
        "threads": args.threads, "quick": args.quick, "repeats": repeats,
        "limits": limits, "configs": rows, "best_fixed_batch": best,
        "ratio_vs_bs1": rows["ftp_fastlm"]["requests_per_s"] / rows["hflm_bs1"]["requests_per_s"],
        "ratio_vs_best": rows["ftp_fastlm"]["requests_per_s"] / rows[best]["requests_per_s"],
        "max_loglik_abs_diff": diff,
        "accuracy": accuracies,
        "identical_accuracy": all(accuracies[k] == accuracies["hflm_bs1"] for k in accuracies),
    }
    out = ROOT / "benchmarks" / "results" / ("eval_quick.json" if args.quick else "eval.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "configs"}, indent=2))


if __name__ == "__main__":
    main()
