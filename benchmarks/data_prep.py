"""Data preparation speed: template + tokenize, and end-to-end JSONL import.

1. Template + tokenize N examples (default 50k, a mix of alpaca and chat records) with
   ``encode_records`` against the per-example loop users write (``apply_chat_template`` on
   the prompt and on the whole conversation, labels masked by the prompt's length), same
   tokenizer and chat template, same run. Target: >= 5x examples/s.
2. Import JSONL files of growing size (validate, scrub with patterns, dedupe, split, store),
   each in a fresh process: records/s and peak resident memory, which must stay flat as the
   file grows (the import streams).

    python benchmarks/data_prep.py [--quick] [--tokenizer PATH]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import pickle
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
RESULTS = Path(__file__).parent / "results"
WORDS = ("router modem phone billing refund outage slow cable account password invoice "
         "delivery order screen battery charger please help again today since yesterday "
         "the my is not working after update customer support ticket urgent").split()


def sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def make_records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        if i % 2:
            records.append({"format": "alpaca", "instruction": f"Ticket {i}: " +
                            sentence(rng, 10, 60), "input": "",
                            "output": sentence(rng, 20, 150)})
        else:
            records.append({"format": "chat", "messages": [
                {"role": "system", "content": "You sort support tickets."},
                {"role": "user", "content": f"Ticket {i}: " + sentence(rng, 10, 60)},
                {"role": "assistant", "content": sentence(rng, 20, 150)}]})
    return records


def baseline(records: list[dict], tok, max_length: int) -> list[dict]:
    """What users write: one example at a time through apply_chat_template."""
    from ftp.plugins.data.formatters import to_messages

    out = []
    for record in records:
        messages = to_messages(record)
        prompt = tok.apply_chat_template(messages[:-1], add_generation_prompt=True,
                                         tokenize=True)["input_ids"]
        ids = tok.apply_chat_template(messages, tokenize=True)["input_ids"]
        while ids[-1] != tok.eos_token_id and tok.decode(ids[-1:]).isspace():
            ids = ids[:-1]  # the newline the template puts after the end-of-turn token
        if ids[-1] != tok.eos_token_id:
            ids = ids + [tok.eos_token_id]
        if len(ids) > max_length:
            continue
        out.append({"input_ids": ids, "labels": [-100] * len(prompt) + ids[len(prompt):]})
    return out


def load_tokenizers(path: str | None) -> dict:
    from transformers import AutoTokenizer

    from ftp.testing import build_tokenizer

    found = {"tiny (ftp.testing, byte-level BPE, 496 tokens)":
             build_tokenizer(Path(tempfile.mkdtemp()) / "tok")}
    try:
        from ftp.plugins.models import resolve_model

        folder = Path(path) if path else resolve_model("smollm2-135m-instruct")
        found[f"SmolLM2-135M-Instruct ({folder.name})"] = AutoTokenizer.from_pretrained(
            str(folder))
    except Exception as error:  # the real tokenizer is optional here
        print(f"no real tokenizer: {error}", file=sys.stderr)
    return found


def bench_tokenize(n: int, repeats: int, tokenizer_path: str | None) -> list[dict]:
    from ftp.plugins.data.api import encode_records
    from ftp.plugins.data.tokenize import clear_caches

    records = make_records(n)
    results = []
    for name, tok in load_tokenizers(tokenizer_path).items():
        ours, base, checked = [], [], []
        for _ in range(repeats):  # interleaved, so background load hits both alike
            clear_caches(tok)  # each repeat starts cold, like a fresh `ftp train`
            start = time.perf_counter()
            fast = encode_records(records, tok, max_length=1024)
            ours.append(time.perf_counter() - start)
            tokens, fast = fast.stats["tokens"], digests(fast.examples)
            start = time.perf_counter()
            slow = baseline(records, tok, 1024)
            base.append(time.perf_counter() - start)
            checked.append(compare(name, fast, digests(slow)))
        paused = _gc_paused(baseline, records, tok, 1024)  # the loop without GC passes
        results.append({
            "tokenizer": name, "examples": n, "repeats": repeats,
            "ours_examples_per_s": round(n / statistics.median(ours)),
            "baseline_examples_per_s": round(n / statistics.median(base)),
            "speedup": round(statistics.median(base) / statistics.median(ours), 2),
            "baseline_gc_paused_examples_per_s": round(n / paused),
            "speedup_vs_baseline_gc_paused": round(paused / statistics.median(ours), 2),
            "ours_seconds": [round(t, 3) for t in ours],
            "baseline_seconds": [round(t, 3) for t in base],
            "identical_examples": checked[-1], "tokens": tokens,
            "load_average_after": os.getloadavg(),
        })
        print(json.dumps(results[-1]), file=sys.stderr)
    return results


def digests(examples: list[dict]) -> list[bytes]:
    """One hash per example: compact, so neither side's timed run walks the other's lists."""
    return [hashlib.blake2b(pickle.dumps((e["input_ids"], e["labels"]))).digest()
            for e in examples]


def compare(name: str, ours: list[bytes], theirs: list[bytes]) -> str:
    same = sum(a == b for a, b in zip(ours, theirs, strict=False))
    if same != len(theirs) or len(ours) != len(theirs):
        raise SystemExit(f"{name}: outputs differ ({same}/{len(theirs)} identical, "
                         f"{len(ours)} vs {len(theirs)} examples)")
    return f"{same}/{len(theirs)}"


def _gc_paused(function, *args) -> float:
    """Seconds of one call with the cyclic garbage collector paused, as encode_records does.

    The loop as users write it keeps the collector on, and its passes over the growing list
    of examples slow it as n grows; this second figure shows the ratio without that effect.
    """
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        function(*args)
        return time.perf_counter() - start
    finally:
        gc.enable()


def write_jsonl(path: Path, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with path.open("w") as handle:
        for i in range(n):
            text = f"Ticket {i}: " + sentence(rng, 10, 40)
            if i % 10 == 0:
                text += f" call me on 212-555-{i % 10000:04d} or mail user{i}@example.com"
            handle.write(json.dumps({"instruction": text, "input": "",
                                     "output": sentence(rng, 10, 60)}) + "\n")


def memory_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: resets VmHWM to VmRSS


def import_child(root: str, n: int) -> None:
    """In a fresh process: warm up on 100 records, then import n; print the figures."""
    from ftp.offline import go_offline

    go_offline()
    from ftp.plugins.data.api import import_dataset
    from ftp.progress import set_quiet
    from ftp.project import Project

    set_quiet(True)
    project = Project.init(Path(root) / "project")
    write_jsonl(project.root / "warm.jsonl", 100, seed=2)
    import_dataset(project, project.root / "warm.jsonl")
    write_jsonl(project.root / "data.jsonl", n)
    reset_peak()  # measure the import only, not the libraries' start-up
    warm_kb = memory_kb("VmRSS")
    start = time.perf_counter()
    dataset = import_dataset(project, project.root / "data.jsonl")
    seconds = time.perf_counter() - start
    peak_kb = memory_kb("VmHWM")
    print(json.dumps({"records": n, "stored": dataset["counts"]["total"],
                      "seconds": round(seconds, 2), "records_per_s": round(n / seconds),
                      "rss_before_import_mb": round(warm_kb / 1024, 1),
                      "peak_rss_during_import_mb": round(peak_kb / 1024, 1),
                      "growth_during_import_mb": round((peak_kb - warm_kb) / 1024, 1),
                      "file_mb": round((project.root / "data.jsonl").stat().st_size / 2**20,
                                       1)}))


def bench_import(sizes: list[int]) -> list[dict]:
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as root:
            out = subprocess.run([sys.executable, __file__, "--child", root, str(n)],
                                 capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"import of {n} records failed:\n{out.stderr[-3000:]}")
        results.append({**json.loads(out.stdout.strip().splitlines()[-1]),
                        "load_average_after": os.getloadavg()})
        print(json.dumps(results[-1]), file=sys.stderr)
    return results


def git_version() -> str:
    """The commit measured, with "+dirty" when the working tree has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=Path(__file__).parent).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + ("+dirty" if git("status", "--porcelain",
                                                                  "--untracked-files=no")
                                                  else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5k examples, small imports")
    parser.add_argument("--tokenizer", help="a tokenizer folder (default: SmolLM2 if "
                                            "installed, and the tiny test tokenizer)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["tokenize", "import"], help="run one part")
    parser.add_argument("--sizes", help="import sizes, comma-separated")
    args = parser.parse_args()
    if args.child:
        import_child(args.child[0], int(args.child[1]))
        return
    n, repeats = (5000, 1) if args.quick else (50000, 3)
    sizes = [2000, 4000, 8000] if args.quick else [25000, 50000, 100000]
    if args.sizes:
        sizes = [int(size) for size in args.sizes.split(",")]
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / ("data_prep_quick.json" if args.quick else "data_prep.json")
    result = json.loads(path.read_text()) if path.is_file() else {}
    result.update({"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                               "platform": platform.platform(),
                               "load_average_at_start": os.getloadavg()},
                   "quick": args.quick})
    notes = result["notes"] = result.get("notes") if isinstance(result.get("notes"), dict) \
        else {}
    code = {"code": git_version()}
    if args.only in (None, "tokenize"):
        result["tokenize"] = [{**row, **code} for row in bench_tokenize(n, repeats,
                                                                        args.tokenizer)]
        notes["tokenize"] = (f"{n} examples, median of {repeats} interleaved repeats, each "
                             "cold (caches cleared); every example checked identical; "
                             "baseline_gc_paused: one more run of the loop with the "
                             "garbage collector paused")
    if args.only in (None, "import"):
        result["import"] = [{**row, **code} for row in bench_import(sizes)]
        notes["import"] = ("each size in a fresh process; peak RSS from VmHWM reset after a "
                           "warm-up import of 100 records")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
