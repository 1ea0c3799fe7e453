"""Serving: in-process `model.generate` against `transformers serve` (and vLLM where it is
importable), same model, same prompts, same number of generated tokens, concurrency 1-16.

In-process, C requests in flight are one left-padded batch of C prompts through
``model.generate`` (greedy): TTFT is the time of a 1-token call on the batch, inter-token
latency (ITL) the rest of the batch's time over the remaining tokens. Served, C requests
are in flight at once from ftp's bounded load generator (``ftp.plugins.serving.loadgen``,
streamed chat completions): TTFT is the first streamed token, ITL the gaps between tokens.
Every request generates exactly ``--tokens`` tokens (``min_new_tokens`` in-process; the
request's ``generation_config`` for transformers serve, ``min_tokens``/``ignore_eos`` for
vLLM), so tokens/s compare like with like. transformers serve runs twice: as `ftp serve`
starts it (one request at a time) and with its ``--continuous-batching`` (not in --smoke). Cost per million generated tokens is
``--price-per-hour`` over tokens/s.

    python benchmarks/serve.py              # SmolLM2-135M-Instruct (ftp models pull ...)
    python benchmarks/serve.py --gpu        # random-initialised Qwen2.5-0.5B shape, CUDA
    python benchmarks/serve.py --smoke      # the tiny test model, a few requests (CPU)

On a CUDA machine without --model, --gpu is the default. Results: results/serve.json
(serve_gpu.json, serve_smoke.json). Target on GPU (issue 12): <= 10 ms per token at
batch 1 for the 0.5B shape.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def prompts(n: int) -> list[list[dict[str, str]]]:
    """The quickstart's support emails as chat requests (seeded, so every run asks alike)."""
    from ftp.plugins.loop import tickets

    return [[{"role": "user", "content": "Turn this email into a JSON ticket:\n\n"
              + record["input"]}] for record in tickets.generate(n, seed=3)]


def model_folder(args: argparse.Namespace, root: Path) -> tuple[Path, str]:
    if args.smoke:
        from ftp.testing import build_tiny_model

        return build_tiny_model(root / "tiny"), "tiny test model"
    if args.gpu:
        from train_gpu import build

        return build("qwen2.5-0.5b", root, "bfloat16"), "Qwen2.5-0.5B shape (random init)"
    from ftp.plugins.models import resolve_model

    return resolve_model(args.model), args.model


def in_process(folder: Path, asked: list, levels: list[int], tokens: int, requests: int,
               price: float | None) -> list[dict]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype="auto").to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), padding_side="left")
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    texts = [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
             for m in asked]

    def run(batch: list[str], new: int) -> float:
        inputs = tokenizer(batch, return_tensors="pt", padding=True,
                           add_special_tokens=False).to(device)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        sync()
        start = time.perf_counter()
        with torch.no_grad():
            model.generate(**inputs, max_new_tokens=new, min_new_tokens=new, do_sample=False,
                           pad_token_id=tokenizer.pad_token_id)
        sync()
        return time.perf_counter() - start

    run(texts[:1], 2)  # warm-up
    rows = []
    for level in levels:
        batches = [texts[i:i + level] for i in range(0, max(requests, level), level)]
        batches = [b if len(b) == level else (b * level)[:level] for b in batches]
        firsts = [run(b, 1) for b in batches]
        totals = [run(b, tokens) for b in batches]
        wall = sum(totals)
        itl = [(t - f) / (tokens - 1) * 1000 for t, f in zip(totals, firsts, strict=True)]
        per_s = level * tokens * len(batches) / wall
        rows.append({"arm": "in-process generate", "concurrency": level,
                     "requests": level * len(batches),
                     "ttft_p50_ms": round(statistics.median(firsts) * 1000, 2),
                     "itl_p50_ms": round(statistics.median(itl), 2),
                     "requests_per_s": round(level * len(batches) / wall, 3),
                     "tokens_per_s": round(per_s, 2),
                     "cost_per_m_tokens": round(price / (per_s * 3600) * 1e6, 4)
                     if price else None})
    return rows


def served(engine_name: str, folder: Path, asked: list, levels: list[int], tokens: int,
           requests: int, price: float | None, log: Path,
           flags: tuple[str, ...] = ()) -> list[dict]:
    from ftp.plugins.serving import engine as engines
    from ftp.plugins.serving.loadgen import measure

    extra = ({"min_tokens": tokens, "ignore_eos": True} if engine_name == "vllm" else
             {"generation_config": json.dumps({"max_new_tokens": tokens,
                                               "min_new_tokens": tokens,
                                               "do_sample": False})})
    started = time.perf_counter()
    engine = engines.start(engine_name, folder, "127.0.0.1", engines.free_port(), log,
                           timeout=600, extra=flags)
    ready = time.perf_counter() - started
    try:
        measure(engine.base_url, engine.model_name, asked[:2], concurrency=[1], requests=2,
                max_seconds=120, max_tokens=4, extra=extra)  # warm-up
        rows = measure(engine.base_url, engine.model_name, asked, concurrency=levels,
                       requests=requests, max_seconds=600, max_tokens=tokens,
                       price_per_hour=price, extra=extra)
    finally:
        engines.stop(engine)
    arm = f"{engine_name} serve" + "".join(f" {flag}" for flag in flags)
    return [{"arm": arm, "engine_start_s": round(ready, 1), **row} for row in rows]


def commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True, cwd=ROOT)
    return found.stdout.strip()


def main() -> None:
    import importlib.util

    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--gpu", action="store_true", help="the 0.5B shape on CUDA")
    parser.add_argument("--smoke", action="store_true", help="tiny model, few requests")
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--tokens", type=int, default=32, help="generated per request")
    parser.add_argument("--requests", type=int, default=16, help="per concurrency level")
    parser.add_argument("--price-per-hour", type=float, default=1.0,
                        help="hardware price per hour (USD) for the cost column")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--no-continuous-batching", action="store_true",
                        help="skip the transformers serve --continuous-batching arm")
    args = parser.parse_args()
    args.gpu = args.gpu or (torch.cuda.is_available() and not args.smoke
                            and "--model" not in sys.argv)
    if args.smoke:
        args.concurrency, args.tokens, args.requests = "1,4", 8, 4
    levels = [int(x) for x in args.concurrency.split(",")]
    asked = prompts(max(args.requests, max(levels)))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder, label = model_folder(args, Path(tmp))
        rows = in_process(folder, asked, levels, args.tokens, args.requests,
                          args.price_per_hour)
        # transformers serve as `ftp serve` starts it, then with its continuous batching
        arms = [("transformers", ())]
        if not (args.smoke or args.no_continuous_batching):  # its warm-up takes ~30 s
            arms.append(("transformers", ("--continuous-batching",)))
        arms += [("vllm", ())] if importlib.util.find_spec("vllm") else []
        for index, (name, flags) in enumerate(arms):
            rows += served(name, folder, asked, levels, args.tokens, args.requests,
                           args.price_per_hour, Path(tmp) / f"{name}-{index}.log", flags)
    base = {r["concurrency"]: r["tokens_per_s"] for r in rows if r["arm"].startswith("in-")}
    for row in rows:
        row["tokens_per_s_vs_in_process"] = round(row["tokens_per_s"] / base[row["concurrency"]],
                                                  3)
    payload = {"model": label, "device": "cuda" if torch.cuda.is_available() else "cpu",
               "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
               "tokens_per_request": args.tokens, "requests_per_level": args.requests,
               "price_per_hour": args.price_per_hour, "torch_threads": torch.get_num_threads(),
               "cpu_count": os.cpu_count(), "python": platform.python_version(),
               "vllm": importlib.util.find_spec("vllm") is not None, "commit": commit(),
               "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
               "note": "2-core machine shared with other engineers' tests unless stated",
               "rows": rows}
    if args.gpu and torch.cuda.is_available():
        first = next(r for r in rows if r["arm"].startswith("in-") and r["concurrency"] == 1)
        payload["target"] = {"ms_per_token_batch1_max": 10.0, "in_process_itl_ms":
                             first["itl_p50_ms"], "met": first["itl_p50_ms"] <= 10.0}
    name = "serve_smoke.json" if args.smoke else "serve_gpu.json" if args.gpu else "serve.json"
    out = args.out or RESULTS / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    for row in rows:
        print(json.dumps(row))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
