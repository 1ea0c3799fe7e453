"""CLI start-up time: `ftp --help` and `ftp plugins` against bare `python -c pass`.

Median wall time over N runs of each, measured in the same run, interleaved so machine
noise hits all three alike. Target: `ftp --help` within 0.25 s of bare Python start-up.

    python benchmarks/cli_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "cli_startup.json"
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "ftp --help": [sys.executable, "-m", "ftp", "--help"],
    "ftp plugins": [sys.executable, "-m", "ftp", "plugins"],
}
TARGET_S = 0.25


def time_once(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(runs: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for command in COMMANDS.values():  # warm the OS caches once
        time_once(command)
    for _ in range(runs):
        for name, command in COMMANDS.items():
            timings[name].append(time_once(command))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    timings = measure(args.runs)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    base = medians["python -c pass"]
    result = {
        "benchmark": "cli_startup", "runs": args.runs, "python": platform.python_version(),
        "machine": platform.machine(), "median_s": medians,
        "overhead_vs_python_s": {name: value - base for name, value in medians.items()},
        "target_overhead_s": TARGET_S,
        "meets_target": medians["ftp --help"] - base <= TARGET_S,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for name, value in medians.items():
        print(f"{name:16s} median {value * 1000:7.1f} ms  (+{(value - base) * 1000:6.1f} ms)")
    print(f"target: ftp --help within {TARGET_S * 1000:.0f} ms of python: "
          f"{'met' if result['meets_target'] else 'NOT met'}")


if __name__ == "__main__":
    main()
