"""CLI start-up time: `ftp --help` and `ftp plugins` against bare `python -c pass`.

Median wall time over N runs of each, measured in the same run, interleaved so machine
noise hits all three alike. Target: `ftp --help` within 0.25 s of bare Python start-up.
``--baseline-tree DIR`` adds `ftp --help` of another checkout (DIR holds an ``ftp`` folder
laid out as the installed package, e.g. links to an older commit's core/, plugins/,
privacy/) to the same interleaved runs, for a before/after on a busy machine.

    python benchmarks/cli_startup.py [--runs 20] [--baseline-tree DIR]
"""

from __future__ import annotations

import argparse
import json
import os
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


def time_once(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env)
    return time.perf_counter() - start


def measure(runs: int, baseline_tree: Path | None = None) -> dict[str, list[float]]:
    commands: dict[str, tuple[list[str], dict[str, str] | None]] = {
        name: (command, None) for name, command in COMMANDS.items()}
    if baseline_tree is not None:  # the same command, importing `ftp` from the other tree
        env = {**os.environ, "PYTHONPATH": str(baseline_tree)}
        commands["ftp --help (baseline tree)"] = (COMMANDS["ftp --help"], env)
    timings: dict[str, list[float]] = {name: [] for name in commands}
    for command, env in commands.values():  # warm the OS caches once
        time_once(command, env)
    for _ in range(runs):
        for name, (command, env) in commands.items():
            timings[name].append(time_once(command, env))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--baseline-tree", type=Path, help="another checkout's import tree")
    args = parser.parse_args()
    load_before = os.getloadavg()  # the machine is shared: say how busy it was
    timings = measure(args.runs, args.baseline_tree)
    load_after = os.getloadavg()
    medians = {name: statistics.median(values) for name, values in timings.items()}
    base = medians["python -c pass"]
    result = {
        "benchmark": "cli_startup", "runs": args.runs, "python": platform.python_version(),
        "machine": platform.machine(), "median_s": medians,
        "overhead_vs_python_s": {name: value - base for name, value in medians.items()},
        "target_overhead_s": TARGET_S,
        "meets_target": medians["ftp --help"] - base <= TARGET_S,
        "loadavg_before": load_before, "loadavg_after": load_after,
        "commit": _commit(),
        "baseline_tree": str(args.baseline_tree) if args.baseline_tree else None,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for name, value in medians.items():
        print(f"{name:16s} median {value * 1000:7.1f} ms  (+{(value - base) * 1000:6.1f} ms)")
    print(f"target: ftp --help within {TARGET_S * 1000:.0f} ms of python: "
          f"{'met' if result['meets_target'] else 'NOT met'}")


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


if __name__ == "__main__":
    main()
