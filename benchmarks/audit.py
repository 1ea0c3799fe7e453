"""Leakage audit speed: candidates scored on the context's key/value cache against each
``context + candidate`` run as its own sequence (the old computation), same model.

The default audit of `ftp audit leakage` on the default model (SmolLM2-135M-Instruct, float32
as the audit loads it): 8 canaries ranked against 1,000 random secrets each, and 50
placeholder sites scored against the placeholder, 10 surrogates and the original value,
on the trained model and on its base (the adapter switched off: twice). Sites are cut from
the example task's emails scrubbed by the scrubber (the text before a placeholder).

Both paths run on the same subset (the first canary against ``--subset-candidates`` of its
candidates, the first ``--subset-sites`` sites): their scores are compared (max absolute
difference) and their times give the ratio on identical work. The new path then runs the
whole default audit (``audit_model``, with its progress lines, and the 50 sites twice);
the old path's time for it is scaled from the subset per scored sequence (the old path's
cost is linear in the sequences: fixed batches of 64 whole sequences). Load average and
elapsed times are recorded: the 2-core machine is shared. Results go to
``results/audit.json``.

    python benchmarks/audit.py [--model DIR] [--subset-candidates 200] [--subset-sites 10]
                               [--canaries 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ftp.offline import go_offline  # noqa: E402

go_offline()

RESULTS = Path(__file__).parent / "results" / "audit.json"
CANARIES, CANDIDATES, SITES, SURROGATES = 8, 1000, 50, 10


def sites(tokenizer, n: int) -> list[tuple[str, list[str]]]:
    """(context, options) like the audit's: the scrubbed email up to a placeholder."""
    from ftp.plugins.audit.placeholders import surrogates
    from ftp.plugins.loop import tickets
    from ftp.privacy import build_scrubber

    scrubber = build_scrubber({"tier": "ner"}, secret=b"benchmark", workers=1)
    found = []
    for record in scrubber.scrub_records(tickets.generate(n)):
        text = record["input"]
        for entity in ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"):
            cut = text.find(f"<{entity}>")
            if cut > 0 and len(found) < n:
                prompt = tokenizer.apply_chat_template(
                    [{"role": "user", "content": f"{record['instruction']}\n{text[:cut]}"}],
                    tokenize=False, add_generation_prompt=False)
                found.append((prompt, [f"<{entity}>", *surrogates(entity, SURROGATES),
                                       "Original Value"]))
                break
    return found


def canary_jobs(tokenizer, n: int) -> list[tuple[str, list[str]]]:
    from ftp.plugins.audit.leakage import canary_context
    from ftp.privacy.canaries import make_canaries, random_secret

    rng = random.Random("ftp-candidates-0")
    return [(canary_context(tokenizer, c), [c["secret"], *(random_secret(rng)
                                                           for _ in range(CANDIDATES))])
            for c in make_canaries(n, seed=0)]


def old_scores(model, tokenizer, context: str, options: list[str]) -> list[float]:
    from ftp.plugins.audit import scoring

    base = tokenizer(context.rstrip(" "), add_special_tokens=False)["input_ids"]
    sequences = [tokenizer(context + o, add_special_tokens=False)["input_ids"] for o in options]
    begins = [scoring.common_prefix(base, s) for s in sequences]
    return scoring.full_sequences(model, tokenizer, sequences, begins)


def timed(function, jobs) -> tuple[float, list[list[float]]]:
    start = time.perf_counter()
    scores = [function(context, options) for context, options in jobs]
    return time.perf_counter() - start, scores


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--subset-candidates", type=int, default=200)
    parser.add_argument("--subset-sites", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--canaries", type=int, default=CANARIES,
                        help="canaries the new path runs in full (scaled to 8 when fewer)")
    args = parser.parse_args()
    import torch

    from ftp.paths import models_dir
    from ftp.plugins.audit import scoring
    from ftp.plugins.audit.leakage import Progress, audit_model
    from ftp.privacy.canaries import make_canaries

    torch.set_num_threads(args.threads)
    path = args.model or models_dir() / "smollm2-135m-instruct"
    from ftp.plugins.audit.leakage import load_model

    model, tokenizer = load_model(path)
    load_start = os.getloadavg()
    canaries, site_jobs = canary_jobs(tokenizer, CANARIES), sites(tokenizer, SITES)
    new = lambda c, o: scoring.continuation_logprobs(model, tokenizer, c, o)  # noqa: E731
    old = lambda c, o: old_scores(model, tokenizer, c, o)  # noqa: E731
    canary_subset = [(canaries[0][0], canaries[0][1][:args.subset_candidates + 1])]
    site_subset = site_jobs[:args.subset_sites]
    counts = {"canary": len(canary_subset[0][1]), "sites": sum(len(o) for _, o in site_subset)}
    old_canary_s, old_canary = timed(old, canary_subset)
    old_site_s, old_site = timed(old, site_subset)
    say(f"old path on the subset ({counts}): {old_canary_s:.1f} s + {old_site_s:.1f} s")
    new_canary_s, new_canary = timed(new, canary_subset)
    new_site_s, new_site = timed(new, site_subset)
    say(f"new path on the subset: {new_canary_s:.1f} s + {new_site_s:.1f} s")
    difference = max(abs(a - b) for olds, news in zip(old_canary + old_site,
                                                      new_canary + new_site, strict=True)
                     for a, b in zip(olds, news, strict=True))
    start = time.perf_counter()
    audit_model(model, tokenizer, make_canaries(args.canaries, seed=0), CANDIDATES)
    canaries_s = (time.perf_counter() - start) * CANARIES / args.canaries
    say(f"new path, {args.canaries} canaries x {CANDIDATES + 1}, scaled to {CANARIES}: "
        f"{canaries_s:.1f} s")
    start = time.perf_counter()
    for label in ("", " (base model)"):  # an audit scores the sites on both models
        meter = Progress(sum(len(o) for _, o in site_jobs), f"sites{label}")
        for context, options in site_jobs:
            scoring.continuation_logprobs(model, tokenizer, context, options, tick=meter)
        meter.close()
    sites_s = time.perf_counter() - start
    all_sites = sum(len(o) for _, o in site_jobs)
    old_total = (old_canary_s / counts["canary"] * CANARIES * (CANDIDATES + 1)
                 + old_site_s / counts["sites"] * 2 * all_sites)
    new_total = canaries_s + sites_s
    result = {
        "model": str(path), "threads": args.threads, "canaries": CANARIES,
        "candidates": CANDIDATES, "sites": len(site_jobs), "options_per_site": SURROGATES + 2,
        "subset": {"sequences": counts, "old_s": [old_canary_s, old_site_s],
                   "new_s": [new_canary_s, new_site_s],
                   "ratio_canary": old_canary_s / new_canary_s,
                   "ratio_sites": old_site_s / new_site_s, "max_abs_difference": difference},
        "new_audit_s": {"canaries": canaries_s, "canaries_run": args.canaries,
                        "sites_twice": sites_s, "total": new_total},
        "old_audit_s_scaled": old_total, "speedup_scaled": old_total / new_total,
        "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, shared with other work",
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
