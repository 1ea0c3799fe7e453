"""Attention of a bf16 training step on CPU: the kernels, timed alone.

The attention of one ftp training step of SmolLM2-135M (9 query heads, 3 key/value heads,
head size 64, 30 layers), per example as ``ftp_segments`` runs it, on the example lengths of
the batch ``train.py --profile`` profiles (batch 8, seed 1, median 250: 2,812 tokens):
forward and backward, in fp32 and bf16, with PyTorch's CPU flash kernel
(``scaled_dot_product_attention(is_causal=True)``, what ftp uses in fp32), with the explicit
"math" computation (bf16 matrix multiplies, fp32 softmax) and, in bf16, with
``cpu_attention``'s kernel (what ftp trains with under bf16 autocast). For scale, a large matrix
multiply (2048x576 by 576x1536, the size of an MLP projection of a step) in fp32 and bf16:
what bf16 buys where the kernel uses it. Medians of ``--repeats``, one thread; the load
average is recorded. Results: ``results/attention_cpu.json``.

    python benchmarks/attention_cpu.py [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import synthetic_examples  # noqa: E402

from ftp.plugins.training.cpu_attention import segment_attention_bf16  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "attention_cpu.json"
HEADS, KV_HEADS, DIM, LAYERS = 9, 3, 64, 30


def example_lengths() -> list[int]:
    return [len(e["input_ids"]) for e in synthetic_examples(8, 49152, 250, seed=1)]


def math_attention(q, k, v):
    """Causal attention as matrix multiplies; query heads grouped onto their key head."""
    groups = q.shape[1] // k.shape[1]
    length = q.shape[2]
    grouped = q.reshape(1, k.shape[1], groups * length, DIM)
    scores = (grouped @ k.transpose(-1, -2)).float() * DIM ** -0.5
    causal = torch.ones(length, length, dtype=torch.bool).tril().repeat(groups, 1)
    weights = scores.masked_fill(~causal, float("-inf")).softmax(-1).to(q.dtype)
    return (weights @ v).reshape(q.shape)


def attention_step(kind: str, dtype: torch.dtype, lengths: list[int]) -> float:
    """Seconds for one step's attention, forward and backward, all layers."""
    tensors = [[torch.randn(1, heads, n, DIM, dtype=dtype, requires_grad=True)
                for heads in (HEADS, KV_HEADS, KV_HEADS)] for n in lengths]
    start = time.perf_counter()
    for _ in range(LAYERS):
        outputs = []
        for q, k, v in tensors:
            if kind == "flash":
                outputs.append(F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                              enable_gqa=True))
            elif kind == "ftp":  # cpu_attention's kernel, one example per call here
                outputs.append(segment_attention_bf16(q, k, v, [q.shape[2]], None))
            else:
                outputs.append(math_attention(q, k, v))
        sum(o.float().sum() for o in outputs).backward()
    return time.perf_counter() - start


def math_matches_flash() -> float:
    """Largest difference of the two computations (fp32, one example): same function."""
    q, k, v = (torch.randn(1, heads, 100, DIM) for heads in (HEADS, KV_HEADS, KV_HEADS))
    flash = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    return float((flash - math_attention(q, k, v)).abs().max())


def matmul_gflops(dtype: torch.dtype) -> float:
    a, b = torch.randn(2048, 576, dtype=dtype), torch.randn(576, 1536, dtype=dtype)
    a @ b
    start, runs = time.perf_counter(), 20
    for _ in range(runs):
        a @ b
    return 2 * 2048 * 576 * 1536 * runs / (time.perf_counter() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    lengths = example_lengths()
    load_start = os.getloadavg()
    arms = [(kind, dtype) for dtype in (torch.float32, torch.bfloat16)
            for kind in ("flash", "math")] + [("ftp", torch.bfloat16)]
    times: dict[str, list[float]] = {f"{k}_{str(d)[6:]}": [] for k, d in arms}
    for kind, dtype in arms:  # one warm-up each
        attention_step(kind, dtype, lengths[:2])
    for _ in range(args.repeats):  # interleaved: the machine's load hits every arm alike
        for kind, dtype in arms:
            times[f"{kind}_{str(dtype)[6:]}"].append(attention_step(kind, dtype, lengths))
    medians = {name: round(statistics.median(values), 3) for name, values in times.items()}
    result = {
        "math_vs_flash_max_difference_fp32": math_matches_flash(), "lengths": lengths,
        "tokens": sum(lengths), "layers": LAYERS, "heads": [HEADS, KV_HEADS, DIM], "threads": args.threads,
        "attention_step_s_median": medians, "attention_step_s_all": times,
        "bf16_over_fp32_flash": round(medians["flash_float32"] / medians["flash_bfloat16"], 2),
        "ftp_bf16_over_flash_bf16": round(medians["flash_bfloat16"] / medians["ftp_bfloat16"],
                                          2),
        "matmul_gflops": {"float32": round(matmul_gflops(torch.float32), 1),
                          "bfloat16": round(matmul_gflops(torch.bfloat16), 1)},
        "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
