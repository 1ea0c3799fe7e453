"""Generation latency: ftp's decoder strategies against plain `model.generate`, same run.

For each strategy (``plain`` = ``model.generate`` as users call it, ``static`` = static KV
cache, ``compiled`` = static cache + torch.compile, ``loop`` = ftp's lean greedy loop) it
measures time to first token, ms per token at batch 1 and throughput at batch N (medians of
repeated calls after a warm-up, strategies interleaved round-robin so that noise from other
processes hits them alike), checks that
every strategy decodes the same greedy tokens as ``plain``, and reports ratios against
``plain``. The strategy ftp uses on the device (``best_strategy``) is marked.

    python benchmarks/latency.py [--model smollm2-135m-instruct|PATH] [--quick] [--threads 2]

Default model: the installed SmolLM2-135M-Instruct (``ftp models pull``); without it, the
tiny test model (figures then say so).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
STRATEGIES = ("plain", "static", "loop", "compiled")


def load(ref: str):
    import torch

    from ftp.plugins.models import load_model

    try:
        model, tokenizer = load_model(ref, device="cuda" if torch.cuda.is_available() else None)
        return model.eval(), tokenizer, ref
    except Exception as error:  # the default model not installed: say so, use the tiny one
        print(f"cannot load {ref} ({error}); using the tiny test model", file=sys.stderr)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ftp.testing import build_tiny_model

        path = build_tiny_model(Path(tempfile.mkdtemp()) / "tiny")
        return (AutoModelForCausalLM.from_pretrained(path).eval(),
                AutoTokenizer.from_pretrained(path), "tiny test model")


def same_tokens(model, tokenizer, strategy: str, n: int = 16) -> bool:
    from ftp.plugins.generation.decoding import chat_inputs, generate_ids

    device = next(model.parameters()).device
    ids = chat_inputs(tokenizer, [{"role": "user", "content": "Classify: my router is broken."}],
                      device)
    return (generate_ids(model, tokenizer, ids, n, strategy, min_new_tokens=n)
            == generate_ids(model, tokenizer, ids, n, "plain", min_new_tokens=n))


def interleaved(model, tokenizer, strategies: list[str], new_tokens: int, batch: int,
                repeats: int) -> dict[str, dict]:
    """Round-robin over strategies on every repeat, so machine noise (other processes on a
    shared CPU) hits each strategy alike; medians per strategy."""
    import statistics
    import time

    from ftp.plugins.generation.decoding import generate_ids
    from ftp.plugins.generation.latency import PROMPT, chat_inputs

    device = next(model.parameters()).device
    ids = chat_inputs(tokenizer, [{"role": "user", "content": PROMPT}], device)
    shapes = {"first": (ids, 1), "batch1": (ids, new_tokens),
              f"batch{batch}": (ids.repeat(batch, 1), new_tokens)}

    def timed(strategy, key):
        input_ids, n = shapes[key]
        start = time.perf_counter()
        generate_ids(model, tokenizer, input_ids, n, strategy, min_new_tokens=n)
        return time.perf_counter() - start

    times = {s: {key: [] for key in shapes} for s in strategies}
    warmup = {s: sum(timed(s, key) for key in shapes) for s in strategies}
    for rep in range(repeats):
        order = strategies[rep % len(strategies):] + strategies[:rep % len(strategies)]
        for strategy in order:
            for key in shapes:
                times[strategy][key].append(timed(strategy, key))
    rows = {}
    for strategy in strategies:
        med = {key: statistics.median(values) for key, values in times[strategy].items()}
        rows[strategy] = {
            "strategy": strategy, "prompt_tokens": int(ids.shape[1]), "new_tokens": new_tokens,
            "batch": batch, "repeats": repeats, "warmup_s": round(warmup[strategy], 2),
            "ttft_ms": round(med["first"] * 1000, 2),
            "ms_per_token": round((med["batch1"] - med["first"]) / (new_tokens - 1) * 1000, 2),
            "tokens_per_s_batch1": round(new_tokens / med["batch1"], 2),
            f"tokens_per_s_batch{batch}": round(batch * new_tokens / med[f"batch{batch}"], 2),
        }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--quick", action="store_true", help="fewer tokens and repeats")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-compiled", action="store_true")
    args = parser.parse_args()

    from ftp.offline import go_offline

    go_offline()
    import torch

    from ftp.plugins.generation.decoding import best_strategy

    torch.set_num_threads(args.threads)
    model, tokenizer, name = load(args.model)
    device = str(next(model.parameters()).device)
    new_tokens, batch, repeats = (16, 4, 3) if args.quick else (32, 8, 5)
    strategies = [s for s in STRATEGIES if not (s == "compiled" and args.skip_compiled)]
    rows = interleaved(model, tokenizer, strategies, new_tokens, batch, repeats)
    for strategy, row in rows.items():
        row["same_tokens_as_plain"] = same_tokens(model, tokenizer, strategy)
    base = rows["plain"]
    for row in rows.values():
        row["ms_per_token_vs_plain"] = round(row["ms_per_token"] / base["ms_per_token"], 3)
        row["ttft_vs_plain"] = round(row["ttft_ms"] / base["ttft_ms"], 3)
        key = f"tokens_per_s_batch{batch}"
        row["throughput_vs_plain"] = round(row[key] / base[key], 3)
    fastest = min(rows, key=lambda s: rows[s]["ms_per_token"])
    result = {"model": name, "device": device, "threads": args.threads, "quick": args.quick,
              "torch": torch.__version__, "python": platform.python_version(),
              "machine": platform.machine(), "ftp_strategy": best_strategy(device),
              "fastest_ms_per_token": fastest, "strategies": rows}
    suffix = "" if device == "cpu" else "_" + device.split(":")[0]
    out = RESULTS / f"latency{suffix}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
