"""Generation latency: ftp's decoder strategies against plain `model.generate`, same run.

For each strategy (``plain`` = ``model.generate`` as users call it, ``static`` = static KV
cache, ``compiled`` = static cache + torch.compile, ``loop`` = ftp's lean greedy loop) it
measures time to first token, ms per token at batch 1 and throughput at batch N with
``ftp.plugins.app.latency.measure`` (medians of repeated calls after a warm-up), checks that
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
    from ftp.plugins.app.generation import chat_inputs, generate_ids

    device = next(model.parameters()).device
    ids = chat_inputs(tokenizer, [{"role": "user", "content": "Classify: my router is broken."}],
                      device)
    return (generate_ids(model, tokenizer, ids, n, strategy, min_new_tokens=n)
            == generate_ids(model, tokenizer, ids, n, "plain", min_new_tokens=n))


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

    from ftp.plugins.app.generation import best_strategy
    from ftp.plugins.app.latency import measure

    torch.set_num_threads(args.threads)
    model, tokenizer, name = load(args.model)
    device = str(next(model.parameters()).device)
    new_tokens, batch, repeats = (16, 4, 3) if args.quick else (32, 8, 5)
    rows = {}
    for strategy in STRATEGIES:
        if strategy == "compiled" and args.skip_compiled:
            continue
        print(f"{strategy}...", file=sys.stderr, flush=True)
        rows[strategy] = {**measure(model, tokenizer, strategy=strategy, new_tokens=new_tokens,
                                    batch=batch, repeats=repeats),
                          "same_tokens_as_plain": same_tokens(model, tokenizer, strategy)}
    base = rows["plain"]
    for row in rows.values():
        row["ms_per_token_vs_plain"] = round(row["ms_per_token"] / base["ms_per_token"], 3)
        row["ttft_vs_plain"] = round(row["ttft_ms"] / base["ttft_ms"], 3)
        key = f"tokens_per_s_batch{batch}"
        row["throughput_vs_plain"] = round(row[key] / base[key], 3)
    result = {"model": name, "device": device, "threads": args.threads, "quick": args.quick,
              "torch": torch.__version__, "python": platform.python_version(),
              "machine": platform.machine(), "ftp_strategy": best_strategy(device),
              "strategies": rows}
    suffix = "" if device == "cpu" else "_" + device.split(":")[0]
    out = RESULTS / f"latency{suffix}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
