"""Did the model learn the placeholders instead of the values they replaced?

Scrubbing replaces a value (``ana@lima.org``) with a placeholder (``<EMAIL_ADDRESS>``) before
training. At every place a placeholder occurs in the training split (in the response, when
training on responses only), the audit scores continuations of the exact training context:

* the placeholder itself;
* ``K`` realistic values of the same type (Faker, seeded: the *surrogates*);
* the original value, when the user hands over the raw file they imported (``--raw``); it is
  matched to the scrubbed text, used in memory and never stored, printed or logged.

Sums of log-probabilities favour short continuations, so a margin alone says little; the
same margin on the base model (the adapter switched off, or the run's base model folder)
cancels that bias: ``learnt_margin = margin(trained) - margin(base)``, in nats. The model
learnt the placeholder when it prefers it to every surrogate (``placeholder_rate``) and the
margin grew in training. The original values should look like any surrogate to it
(``original_exposure_bits`` near 1.4, the mean for a random rank) and should not beat the
placeholder (``original_over_placeholder_rate`` near 0); higher means the values leaked
(a missed occurrence elsewhere, or a scrubbing policy that kept them).
"""

from __future__ import annotations

import math
import random
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftp.api import Project, Tokenizer
from ftp.errors import NotFound, UserError
from ftp.plugins.audit.leakage import Progress, continuation_logprobs, load_model
from ftp.plugins.data.catalog import examples
from ftp.plugins.data.formatters import get_formatter
from ftp.plugins.scrub.files import detect_format, read_records
from ftp.privacy.corpus import fake_value, fakers_for

PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)>")


@dataclass
class Site:
    """One placeholder in the training text: what precedes it, its type, the original."""

    context: str
    entity: str
    original: str | None = None


def _strings(record: Any) -> Iterator[str]:
    """Every string in a record: fields, message contents, nested lists."""
    if isinstance(record, str):
        yield record
    elif isinstance(record, dict):
        for value in record.values():
            yield from _strings(value)
    elif isinstance(record, list):
        for value in record:
            yield from _strings(value)


class RawIndex:
    """The raw (unscrubbed) strings of a user's file, to recover a placeholder's original."""

    def __init__(self, records: Iterable[dict]) -> None:
        self.strings = sorted({s for record in records for s in _strings(record)})

    def originals(self, scrubbed: str) -> list[str] | None:
        """The values behind ``scrubbed``'s placeholders, in order, or None when no raw
        string has the same text around them."""
        parts = PLACEHOLDER.split(scrubbed)
        literals = parts[0::2]
        pattern = re.compile("(.+?)".join(re.escape(p) for p in literals), re.DOTALL)
        for raw in self.strings:
            if raw.startswith(literals[0]) and raw.endswith(literals[-1]):
                match = pattern.fullmatch(raw)
                if match:
                    return list(match.groups())
        return None


def record_sites(record: dict, prompt: str, response: str, responses_only: bool,
                 raw: RawIndex | None = None) -> list[Site]:
    """The placeholder sites of one formatted training record."""
    text = prompt + response
    sites = []
    for value in dict.fromkeys(s for s in _strings(record) if PLACEHOLDER.search(s)):
        offset = text.find(value)
        if offset < 0:
            continue
        originals = raw.originals(value) if raw is not None else None
        for index, match in enumerate(PLACEHOLDER.finditer(value)):
            at = offset + match.start()
            if responses_only and at < len(prompt):
                continue
            original = originals[index] if originals else None
            sites.append(Site(text[:at], match.group(1), original))
    return sites


def training_sites(project: Project, dataset_id: int, tokenizer: Tokenizer, *, limit: int = 50,
                   raw_path: Path | None = None, seed: int = 0) -> list[Site]:
    """Up to ``limit`` placeholder sites from a dataset's training split (canaries aside),
    drawn evenly at random (seeded) across the records that have any."""
    settings = project.config["format"]
    formatter = get_formatter(settings["template"])
    raw = RawIndex(_read_raw(raw_path)) if raw_path else None
    sites = []
    for row in examples(project, dataset_id, "train", include_canaries=False):
        record = row["record"]
        if not any(PLACEHOLDER.search(s) for s in _strings(record)):
            continue
        prompt, response = formatter(record, tokenizer)
        sites += record_sites(record, prompt, response, settings["train_on_responses_only"],
                              raw)
    random.Random(f"ftp-placeholder-sites-{seed}").shuffle(sites)
    return sites[:limit]


def _read_raw(path: Path) -> list[dict]:
    return list(read_records(Path(path), detect_format(Path(path))))


def surrogates(entity: str, n: int, seed: int = 0) -> list[str]:
    """``n`` realistic values of ``entity`` (none for a type Faker cannot make)."""
    rng, fakers = random.Random(f"ftp-surrogates-{entity}-{seed}"), fakers_for(seed)
    try:
        return [fake_value(entity, rng, fakers) for _ in range(n)]
    except ValueError:
        return []


def score_sites(model: Any, tokenizer: Tokenizer, sites: list[Site], candidates: int = 10,
                seed: int = 0, label: str = "") -> list[dict[str, Any]]:
    """Log-probabilities of the placeholder, the surrogates and the original at each site."""
    pools = {e: surrogates(e, candidates, seed) for e in {s.entity for s in sites}}
    rows = []
    meter = Progress(sum(2 + len(pools[s.entity]) - (not s.original) for s in sites),
                     f"leakage audit: placeholders{label}")
    for site in sites:
        pool = pools[site.entity]
        options = [f"<{site.entity}>", *pool] + ([site.original] if site.original else [])
        scores = continuation_logprobs(model, tokenizer, site.context, options, tick=meter)
        rows.append({"entity": site.entity, "placeholder": scores[0],
                     "surrogates": scores[1:1 + len(pool)],
                     "original": scores[-1] if site.original else None})
    meter.close()
    return rows


def site_figures(trained: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    """One site's figures: margins (nats), preference, the original's rank (no value)."""
    pool = trained["surrogates"]
    figures: dict[str, Any] = {"entity": trained["entity"]}
    if pool:
        figures["margin"] = trained["placeholder"] - statistics.fmean(pool)
        figures["preferred"] = trained["placeholder"] > max(pool)
        if base is not None:
            figures["base_margin"] = base["placeholder"] - statistics.fmean(base["surrogates"])
    if trained["original"] is not None:
        figures["original_over_placeholder"] = trained["original"] > trained["placeholder"]
        if pool:
            rank = 1 + sum(s > trained["original"] for s in pool)
            figures["original_exposure_bits"] = math.log2(len(pool) + 1) - math.log2(rank)
    return figures


SUMMARY = {"margin": "placeholder_margin", "preferred": "placeholder_rate",
           "base_margin": "base_placeholder_margin",
           "original_over_placeholder": "original_over_placeholder_rate",
           "original_exposure_bits": "original_exposure_bits"}


def summarise(figures: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Means per entity type and over all sites (``"all"``), with ``learnt_margin``."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in figures:
        groups[row["entity"]].append(row)
        groups["all"].append(row)
    summary = {}
    for entity, rows in sorted(groups.items()):
        out: dict[str, float] = {"sites": len(rows)}
        for key, name in SUMMARY.items():
            values = [float(r[key]) for r in rows if key in r]
            if values:
                out[name] = round(statistics.fmean(values), 4)
        if "base_placeholder_margin" in out:
            out["learnt_margin"] = round(out["placeholder_margin"]
                                         - out["base_placeholder_margin"], 4)
        out["with_original"] = sum("original_over_placeholder" in r for r in rows)
        summary[entity] = out
    return summary


@contextmanager
def base_model(model: Any, base_path: str | None) -> Iterator[Any]:
    """The model before training: the adapter switched off, or the base model's folder
    (``None`` when neither is at hand)."""
    if hasattr(model, "disable_adapter") and hasattr(model, "peft_config"):
        with model.disable_adapter():
            yield model
        return
    try:
        base = load_model(base_path)[0] if base_path else None
    except (NotFound, UserError):  # not installed here: the audit goes on without it
        base = None
    yield base


def audit_placeholders(model: Any, tokenizer: Tokenizer, sites: list[Site],
                       base_path: str | None = None, candidates: int = 10,
                       seed: int = 0) -> dict[str, Any]:
    """Per-site figures and the summary, the trained model against its base."""
    trained = score_sites(model, tokenizer, sites, candidates, seed)
    with base_model(model, base_path) as base:
        before = (score_sites(base, tokenizer, sites, candidates, seed, " (base model)")
                  if base else None)
    figures = [site_figures(t, before[i] if before else None) for i, t in enumerate(trained)]
    for figure, site in zip(figures, sites, strict=True):
        figure["context"] = site.context
    return {"sites": figures, "summary": summarise(figures), "candidates": candidates,
            "base_compared": before is not None}
