"""Training throughput on a GPU: ftp's trainer against TRL's SFTTrainer (its strongest
configurations: ``padding_free`` and bfd packing; ``--arms`` adds padded ones).

ftp's arm trains on one flat row per step with per-example (varlen) attention and the LM
head only at labelled positions (see train.py). Models: random-initialised Qwen2.5-0.5B
and Llama-3.2-1B shapes (bf16, LoRA r=16 on all linear layers, batch 16, instruction-like
lengths with median ~250 tokens); baselines in the same run.

Targets (issue 13): >= 65k real tokens/s for 0.5B LoRA, >= 35% model FLOPs utilisation for
1B LoRA. MFU counts 6 x parameters x tokens (the usual dense-training convention; LoRA's
frozen weights skip their weight gradients, so this overstates the work done by up to 1/3)
against the card's dense bf16 peak (``--peak-tflops``, default 989 for H100/H200 SXM).

    python benchmarks/train_gpu.py [--smoke] [--shapes qwen2.5-0.5b] [--arms trl_bfd,ftp]
    (--smoke: tiny shapes, runs on CPU)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from train import bench_model  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "train_gpu.json"

SHAPES = {
    "qwen2.5-0.5b": ("Qwen2Config", dict(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
        rope_theta=1000000.0, tie_word_embeddings=True)),
    "llama-3.2-1b": ("LlamaConfig", dict(
        vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
        num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=131072,
        rope_theta=500000.0, tie_word_embeddings=True)),
    "smoke-qwen": ("Qwen2Config", dict(
        vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)),
    "smoke-llama": ("LlamaConfig", dict(
        vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)),
}


def build(shape: str, root: Path, dtype: str) -> Path:
    """A random-initialised model of ``shape`` with a small local tokenizer."""
    import torch
    import transformers

    from ftp.testing import build_tokenizer

    folder = root / shape
    kind, values = SHAPES[shape]
    config = getattr(transformers, kind)(**values, pad_token_id=0, bos_token_id=1,
                                         eos_token_id=2)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    model.save_pretrained(str(folder))
    build_tokenizer(folder)
    return folder


def mfu(result: dict, peak_tflops: float) -> float | None:
    params = result.get("parameters")
    if not params or not peak_tflops:
        return None
    return round(6 * params * result["real_tokens_per_s"] / (peak_tflops * 1e12), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny shapes (CPU is fine)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    parser.add_argument("--shapes", help="comma-separated; default the two real shapes")
    parser.add_argument("--arms", default="trl_padding_free,trl_bfd,ftp")
    parser.add_argument("--out", help="file name under benchmarks/results/")
    args = parser.parse_args()
    from ftp.offline import go_offline

    go_offline()
    import torch

    cuda = torch.cuda.is_available()
    shapes = (args.shapes.split(",") if args.shapes else
              ["smoke-qwen", "smoke-llama"] if args.smoke else ["qwen2.5-0.5b", "llama-3.2-1b"])
    dtype = "bfloat16" if cuda else "float32"
    steps = 2 if args.smoke else args.steps
    results = []
    with tempfile.TemporaryDirectory(prefix="ftp-bench-gpu-") as tmp:
        for shape in shapes:
            folder = build(shape, Path(tmp), dtype)
            found = bench_model(shape, steps, args.batch if not args.smoke else 4, 250, 2,
                                folder=folder, dtype=dtype, arms=tuple(args.arms.split(",")))
            for row in found["arms"].values():
                row["mfu_6n"] = mfu(row, args.peak_tflops if cuda else 0)
            results.append(found)
    device = torch.cuda.get_device_name(0) if cuda else "cpu"
    payload = {"benchmark": "train_gpu", "device": device, "dtype": dtype, "smoke": args.smoke,
               "results": results, "targets": {"qwen2.5-0.5b ftp tokens/s": 65000,
                                               "llama-3.2-1b ftp mfu": 0.35}}
    out = RESULTS.parent / (args.out or ("train_gpu_smoke.json" if args.smoke
                                         else RESULTS.name))  # a name or an absolute path
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
