"""Paired tests for release gates: exact McNemar and the paired bootstrap.

Both work on per-document pairs (the same documents scored by baseline and candidate),
which is far more sensitive than lm-eval's unpaired comparison: documents both models get
right or wrong carry no information about the difference and do not add noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np


@dataclass(frozen=True)
class PairedResult:
    test: str
    difference: float  # candidate - baseline
    p_value: float
    ci_low: float
    ci_high: float
    details: dict


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of ``k`` successes in ``n`` fair coin flips (scipy's
    ``binomtest(k, n, 0.5)``: by symmetry, twice the smaller tail, capped at 1)."""
    if n == 0:
        return 1.0
    low = min(k, n - k)
    if 2 * low == n:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(low + 1))
    return min(1.0, 2 * tail / 2**n)


def mcnemar(baseline: list[float], candidate: list[float], alpha: float = 0.05
            ) -> PairedResult:
    """Exact McNemar test on paired 0/1 outcomes, with a Wald interval for the difference
    in accuracy (candidate - baseline)."""
    n = len(baseline)
    lost = sum(1 for b, c in zip(baseline, candidate, strict=True) if b and not c)
    gained = sum(1 for b, c in zip(baseline, candidate, strict=True) if c and not b)
    difference = (gained - lost) / n if n else 0.0
    z = NormalDist().inv_cdf(1 - alpha / 2)
    spread = math.sqrt(max(gained + lost - n * difference**2, 0.0)) / n if n else 0.0
    return PairedResult("mcnemar", difference, binomial_two_sided(gained, gained + lost),
                        difference - z * spread, difference + z * spread,
                        {"n": n, "baseline_only": lost, "candidate_only": gained})


def paired_bootstrap(baseline: list[float], candidate: list[float], alpha: float = 0.05,
                     samples: int = 10000, seed: int = 0) -> PairedResult:
    """Paired bootstrap of the mean difference: percentile interval, and the two-sided
    p-value of "no difference" from the bootstrap distribution centred on zero."""
    diffs = [c - b for b, c in zip(baseline, candidate, strict=True)]
    n = len(diffs)
    if n == 0:
        return PairedResult("bootstrap", 0.0, 1.0, 0.0, 0.0, {"n": 0})
    mean = sum(diffs) / n
    means = _bootstrap_means(diffs, samples, seed)
    extreme = int((abs(means - mean) >= abs(mean) - 1e-12).sum())
    low = float(means[int(math.floor(alpha / 2 * (samples - 1)))])
    high = float(means[int(math.ceil((1 - alpha / 2) * (samples - 1)))])
    return PairedResult("bootstrap", mean, (extreme + 1) / (samples + 1), low, high,
                        {"n": n, "samples": samples})


def _bootstrap_means(diffs: list[float], samples: int, seed: int):
    """Sorted means of ``samples`` resamples (numpy, in chunks to bound memory)."""
    values = np.asarray(diffs, dtype=np.float64)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // len(values))
    means = [values[rng.integers(0, len(values), (min(chunk, samples - start), len(values)))]
             .mean(axis=1) for start in range(0, samples, chunk)]
    return np.sort(np.concatenate(means))


def is_binary(values: list[float]) -> bool:
    return all(v in (0, 1) for v in values)
