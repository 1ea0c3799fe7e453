"""Release gates: exact McNemar against scipy, paired bootstrap, and the synthetic pair of
runs on 1172 documents where a 1-point drop is not significant and a 5-point drop fails."""

from __future__ import annotations

import random

import pytest
from scipy.stats import binomtest

from ftp.plugins.evaluation import stats
from ftp.plugins.evaluation.decide import decide
from ftp.plugins.evaluation.gates import load_gates

N = 1172


@pytest.mark.parametrize("k,n", [(18, 48), (21, 101), (3, 10), (5, 10), (0, 7), (100, 230),
                                 (611, 1172), (1, 1)])
def test_exact_mcnemar_matches_scipy_binomtest(k, n):
    assert stats.binomial_two_sided(k, n) == pytest.approx(binomtest(k, n, 0.5).pvalue,
                                                           rel=1e-12)


def test_mcnemar_counts_discordant_pairs():
    baseline = [1, 1, 1, 0, 0, 1]
    candidate = [1, 0, 0, 1, 0, 1]
    result = stats.mcnemar(baseline, candidate)
    assert result.details == {"n": 6, "baseline_only": 2, "candidate_only": 1}
    assert result.difference == pytest.approx(-1 / 6)
    assert result.p_value == pytest.approx(binomtest(1, 3, 0.5).pvalue)
    assert result.ci_low < result.difference < result.ci_high


def test_paired_bootstrap_detects_a_consistent_shift_only():
    rng = random.Random(3)
    base = [rng.random() for _ in range(500)]
    shifted = [b - 0.05 + rng.gauss(0, 0.02) for b in base]
    noisy = [b + rng.gauss(0, 0.02) for b in base]
    assert stats.paired_bootstrap(base, shifted, samples=2000).p_value < 0.01
    result = stats.paired_bootstrap(base, noisy, samples=2000)
    assert result.p_value > 0.05 and result.ci_low < 0 < result.ci_high


def _outcomes(correct: int, lost: int, gained: int) -> tuple[list[int], list[int]]:
    """Baseline right on ``correct`` docs; the candidate loses ``lost`` and gains ``gained``."""
    base = [1] * correct + [0] * (N - correct)
    cand = list(base)
    for i in range(lost):
        cand[i] = 0
    for i in range(gained):
        cand[correct + i] = 1
    return base, cand


def _store_run(project, outcomes: list[int]) -> int:
    store = project.store
    with project.run("eval", model="synthetic") as run:
        value = sum(outcomes) / N
        store.add_eval_results(run.id, [{"task": "arc_challenge", "metric": "acc",
                                         "value": value, "n": N, "settings": {"limit": None}}])
        store.add_samples(run.id, [{"task": "arc_challenge", "doc_id": str(i),
                                    "scores": {"acc": float(o)}}
                                   for i, o in enumerate(outcomes)])
    return run.id


@pytest.fixture
def gates_file(tmp_path):
    path = tmp_path / "gates.toml"
    path.write_text('alpha = 0.05\n\n[[gate]]\ntask = "arc_challenge"\nmetric = "acc"\n'
                    "min = 0.3\n")
    return load_gates(path)


def test_one_point_drop_on_1172_docs_is_not_significant(project, gates_file):
    base, cand = _outcomes(600, 30, 18)  # 12 fewer right: about 1 point
    decision = decide(project.store, gates_file, _store_run(project, cand),
                      _store_run(project, base))[0]
    assert decision["difference"] == pytest.approx(-12 / N)
    assert decision["p_value"] == pytest.approx(binomtest(18, 48, 0.5).pvalue)
    assert decision["passed"] and "not significant" in decision["reason"]
    assert decision["ci_low"] < 0 < decision["ci_high"]


def test_five_point_drop_fails(project, gates_file):
    base, cand = _outcomes(600, 80, 21)  # 59 fewer right: about 5 points
    decision = decide(project.store, gates_file, _store_run(project, cand),
                      _store_run(project, base))[0]
    assert decision["difference"] == pytest.approx(-59 / N)
    assert decision["p_value"] == pytest.approx(binomtest(21, 101, 0.5).pvalue)
    assert decision["p_value"] < 1e-6
    assert not decision["passed"] and "dropped" in decision["reason"]
    assert decision["ci_high"] < 0


def test_floor_fails_without_baseline(project, tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('[[gate]]\ntask = "arc_challenge"\nmetric = "acc"\nmin = 0.6\n')
    base, _ = _outcomes(600, 0, 0)
    decision = decide(project.store, load_gates(path), _store_run(project, base))[0]
    assert not decision["passed"] and "below the floor" in decision["reason"]


def test_baseline_on_other_documents_is_bad_input(project, gates_file):
    from ftp.errors import InputError

    base, cand = _outcomes(600, 0, 0)
    candidate = _store_run(project, cand)
    baseline = _store_run(project, base[:-1])
    with pytest.raises(InputError, match="other documents"):
        decide(project.store, gates_file, candidate, baseline)


def test_human_pass_rate_gate(project, tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('[[gate]]\nsource = "ratings"\nmetric = "pass_rate"\nmin = 0.8\n')
    run_id = _store_run(project, [1] * 10 + [0] * (N - 10))
    samples = project.store.samples(run_id)[:10]
    for index, sample in enumerate(samples):
        project.store.add_rating({"sample_id": sample["id"], "run_id": run_id,
                                  "reviewer": "ann", "passed": int(index < 7)})
    decision = decide(project.store, load_gates(path), run_id)[0]
    assert decision["value"] == pytest.approx(0.7) and not decision["passed"]


@pytest.mark.parametrize("text,message", [
    ('[[gate]\ntask = "x"', "toml:1: TOML syntax error"),
    ('[[gate]]\ntask = "arc_challenge"\nmetric = "acc"\nfloor = 1\n', "unknown gate key"),
    ('[[gate]]\nsource = "ratings"\nmetric = "vibes"\n', "unknown ratings metric"),
    ("alpha = 0.1\n", "no \\[\\[gate"),
])
def test_bad_gates_files_name_file_and_line(tmp_path, text, message):
    from ftp.errors import UserError

    path = tmp_path / "gates.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=message) as error:
        load_gates(path)
    assert str(path) in str(error.value)
