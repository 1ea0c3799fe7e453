"""Collects ``gpu.sh``'s parts into one JSON and prints a summary against the targets.

    python benchmarks/gpu_summary.py PARTS_DIR OUT.json SMOKE(0|1)

Each part (train, eval, serve) left ``NAME.rc``, ``NAME.seconds`` and ``NAME.log`` in
PARTS_DIR, and its JSON there (``NAME.json``; the serving benchmark is issue 12's
``serve.py``, whose result is kept as it wrote it).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

TARGETS = {"qwen2.5-0.5b ftp real tokens/s": 65000, "llama-3.2-1b ftp mfu": 0.35,
           "qwen2.5-0.5b decode ms/token at batch 1": 10.0, "eval ratio vs best HFLM": 3.0}


def part(parts: Path, name: str, data: Path | None) -> dict | None:
    if not (parts / f"{name}.rc").is_file():
        return None
    found = {"exit": int((parts / f"{name}.rc").read_text()),
             "seconds": int((parts / f"{name}.seconds").read_text())}
    if data is not None and data.is_file():
        found["result"] = json.loads(data.read_text())
    else:
        found["log_tail"] = (parts / f"{name}.log").read_text()[-3000:]
    return found


def train_lines(result: dict) -> list[str]:
    lines = []
    for row in result.get("results", []):
        if "arms" not in row:
            lines.append(f"train {row.get('model')}: {row.get('error', 'no result')[:200]}")
            continue
        ours = row["arms"]["ftp"]
        best = row["comparisons"]["fp32"].get("best_trl", {})
        trl = row["arms"].get(best.get("arm"), {})
        lines.append(f"train {row['model']}: ftp {ours['real_tokens_per_s']:,.0f} real tok/s "
                     f"(MFU {ours.get('mfu_6n')}), best TRL {best.get('arm')} "
                     f"{trl.get('real_tokens_per_s', 0):,.0f} -> {best.get('speedup')}x; "
                     f"peak GPU {ours.get('peak_gpu_mb')} MB")
    return lines


def eval_lines(result: dict) -> list[str]:
    best = result["configs"][result["best_hflm"]]
    ours = result["configs"]["ftp_fastlm"]
    tasks = ", ".join(f"{k} {v:.2f}x" for k, v in result["ratio_vs_best_per_task"].items())
    return [f"eval: FastLM {ours['requests_per_s']:.1f} requests/s, best HFLM "
            f"{result['best_hflm']} {best['requests_per_s']:.1f} -> "
            f"{result['ratio_vs_best']:.2f}x ({tasks}); largest log-likelihood difference "
            f"{result['max_loglik_abs_diff']:.1e}, identical accuracy "
            f"{result['identical_accuracy']}"]


def main() -> None:
    parts, out, smoke = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
    payload = {"benchmark": "gpu", "smoke": smoke, "load_average": os.getloadavg(),
               "targets": TARGETS,
               "train": part(parts, "train", parts / "train.json"),
               "eval": part(parts, "eval", parts / "eval.json"),
               "serve": part(parts, "serve", parts / "serve.json")}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    lines = [f"gpu.sh ({'smoke, CPU' if smoke else 'GPU'}) -> {out}"]
    for name in ("train", "eval", "serve"):
        found = payload[name]
        if found is None:
            lines.append(f"{name}: not run")
        elif "result" not in found:
            lines.append(f"{name}: exit {found['exit']} after {found['seconds']}s, no JSON")
        elif name == "train":
            lines += train_lines(found["result"])
        elif name == "eval":
            lines += eval_lines(found["result"])
        else:
            lines.append(f"serve: exit {found['exit']} after {found['seconds']}s, result kept "
                         "under serve.result")
    print("\n".join(lines))
    sys.exit(0 if all(payload[n] is None or payload[n]["exit"] == 0 for n in
                      ("train", "eval", "serve")) else 1)


if __name__ == "__main__":
    main()
