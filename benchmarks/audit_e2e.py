"""The default leakage audit end to end, as a user runs it: `ftp audit leakage RUN`.

A fresh project on the default model (SmolLM2-135M-Instruct) with `privacy.canaries = 8`
imports the example task's 300 emails with the defaults (`ner` scrubbing), trains a short
LoRA run (``--train-steps``), and then runs the default audit — 8 canaries against 1,000
candidates each, up to 50 placeholder sites against 10 surrogates, on the trained model and its
base — as a child process, timed by wall clock. The audit's progress lines (stderr) are
counted and the last one kept. ``--project DIR`` reuses a project that already has a
trained run. Results go to ``results/audit_e2e.json`` with the load average around the
audit: the figure is only as quiet as the machine was.

    python benchmarks/audit_e2e.py [--project DIR --run RUN] [--train-steps 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "audit_e2e.json"


def ftp(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftp", *args], cwd=project, env=env,
                          capture_output=True, text=True, check=True)


def make_project(folder: Path, train_steps: int, env: dict[str, str]) -> None:
    """init, canaries = 8, import the example emails, train ``train_steps`` LoRA steps."""
    from ftp.plugins.loop import tickets

    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "emails.jsonl").open("w") as handle:
        for record in tickets.generate(300):
            handle.write(json.dumps(record) + "\n")
    ftp(folder, "init", ".", env=env)
    config = folder / "ftp.toml"
    text = re.sub(r"(?m)^canaries = \d+", "canaries = 8", config.read_text())
    config.write_text(text)
    ftp(folder, "data", "import", "emails.jsonl", env=env)
    ftp(folder, "train", "--max-steps", str(train_steps), "--name", "audited", env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path)
    parser.add_argument("--train-steps", type=int, default=30)
    parser.add_argument("--run", help="the run to audit (default: the one trained here, "
                                      "or latest with --project)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    project = args.project or Path(tempfile.mkdtemp(prefix="ftp-audit-e2e-"))
    run = args.run or ("latest" if args.project else "audited")
    if not (project / "ftp.toml").is_file():
        start = time.perf_counter()
        make_project(project, args.train_steps, env)
        print(f"project ready in {time.perf_counter() - start:.0f} s: {project}",
              file=sys.stderr)
    load_start = os.getloadavg()
    start = time.perf_counter()
    done = ftp(project, "audit", "leakage", run, "--json", env=env)
    seconds = time.perf_counter() - start
    audit = json.loads(done.stdout)
    progress = [line for line in done.stderr.splitlines() if line.startswith("leakage audit")]
    result = {
        "command": f"ftp audit leakage {run}", "seconds": round(seconds, 1),
        "threads": args.threads, "canaries": len(audit.get("canaries", [])),
        "candidates": audit.get("candidates"),
        "placeholder_sites": audit.get("placeholders", {}).get("summary", {})
                                  .get("all", {}).get("sites"),
        "max_exposure_bits": audit.get("max_exposure"), "extracted": audit.get("extracted"),
        "progress_lines": len(progress), "last_progress_line": progress[-1] if progress else None,
        "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
