"""Fidelity: our benchmark evaluators (our task folder + FastLM) give lm-eval's own numbers.

The reference is lm-eval's ``simple_evaluate`` with ``HFLM`` and lm-eval's *own* task YAMLs
(from the installed package), only their data source pointed at the same local files.
acc, acc_norm and their stderr must agree to 1e-6, per-choice log-likelihoods to 1e-4.
"""

from __future__ import annotations

import math

import pytest
from conftest import BENCHDATA
from eval_helpers import LM_EVAL_TASKS, install_all, lm_eval_config, mmlu_config

LIMIT = 12
MMLU_LIMIT = 2
pytestmark = pytest.mark.skipif(not BENCHDATA.is_dir(), reason="no shared benchmark data")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model):
    import os

    home = tmp_path_factory.mktemp("fidelity_home")
    old = os.environ.get("FTP_HOME")
    os.environ["FTP_HOME"] = str(home)
    install_all(BENCHDATA)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    yield home, model, tokenizer
    if old is not None:
        os.environ["FTP_HOME"] = old


@pytest.fixture(autouse=True)
def _home(setup, monkeypatch):
    monkeypatch.setenv("FTP_HOME", str(setup[0]))


@pytest.fixture(scope="module")
def reference(setup):
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from ftp.plugins.evaluation.tasks import SUBJECT_CATEGORY

    home, model, tokenizer = setup
    data = home / "benchmarks"
    folders = {"arc_easy": "arc_easy", "arc_challenge": "arc_challenge",
               "hellaswag": "hellaswag", "truthfulqa_mc1": "truthfulqa",
               "truthfulqa_mc2": "truthfulqa"}
    configs = [lm_eval_config(name, data / folders[name]) for name in LM_EVAL_TASKS]
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=4)
    out = lm_eval.simple_evaluate(model=lm, tasks=configs, limit=LIMIT, log_samples=True,
                                  task_manager=TaskManager(include_defaults=False),
                                  verbosity="ERROR")
    mmlu = lm_eval.simple_evaluate(
        model=lm, tasks=[mmlu_config(s, data / "mmlu") for s in sorted(SUBJECT_CATEGORY)],
        limit=MMLU_LIMIT, log_samples=True, task_manager=TaskManager(include_defaults=False),
        verbosity="ERROR")
    return out, mmlu


def _ours(setup, name: str, limit: int):
    from ftp import registry
    from ftp.plugins.evaluation.job import EvalJob, EvalSettings

    _, model, tokenizer = setup
    job = EvalJob("tiny", EvalSettings(limit=limit, batch_size=8))
    job._loaded = (model, tokenizer)
    rows = registry.get("evaluators", name)(job)
    return {(r["task"], r["metric"]): r for r in rows}, job.samples[name]


@pytest.mark.parametrize("name", list(LM_EVAL_TASKS))
def test_benchmark_matches_lm_eval(setup, reference, name):
    ours, samples = _ours(setup, name, LIMIT)
    theirs = reference[0]["results"][name]
    for metric in ("acc", "acc_norm"):
        if f"{metric},none" not in theirs:
            continue
        row = ours[(name, metric)]
        assert row["value"] == pytest.approx(theirs[f"{metric},none"], abs=1e-6)
        assert row["stderr"] == pytest.approx(theirs[f"{metric}_stderr,none"], abs=1e-6)
        assert row["n"] == LIMIT
    logged = reference[0]["samples"][name]
    assert [s["doc_id"] for s in samples] == [str(s["doc_id"]) for s in logged]
    worst = max(abs(a - b[0]) for mine, ref in zip(samples, logged, strict=True)
                for a, b in zip(mine["scores"]["loglikelihoods"], ref["filtered_resps"],
                                strict=True))
    assert worst <= 1e-4


def test_mmlu_matches_lm_eval_and_micro_averages(setup, reference):
    from lm_eval.api.metrics import aggregate_subtask_metrics, pooled_sample_stderr

    from ftp.plugins.evaluation.tasks import MMLU_CATEGORIES, SUBJECT_CATEGORY

    ours, samples = _ours(setup, "mmlu", MMLU_LIMIT)
    theirs = reference[1]["results"]
    groups = {}
    for category, subjects in MMLU_CATEGORIES.items():
        names = [f"mmlu_{s}" for s in subjects.split()]
        for task in names:
            assert ours[(task, "acc")]["value"] == pytest.approx(theirs[task]["acc,none"],
                                                                 abs=1e-6)
            assert ours[(task, "acc")]["stderr"] == pytest.approx(
                theirs[task]["acc_stderr,none"], abs=1e-6)
        accs = [theirs[t]["acc,none"] for t in names]
        errs = [theirs[t]["acc_stderr,none"] for t in names]
        sizes = [MMLU_LIMIT] * len(names)
        groups[category] = (aggregate_subtask_metrics(accs, sizes, True),
                            pooled_sample_stderr(errs, sizes), sum(sizes))
        mine = ours[(f"mmlu_{category}", "acc")]
        assert mine["value"] == pytest.approx(groups[category][0], abs=1e-6)
        assert mine["stderr"] == pytest.approx(groups[category][1], abs=1e-6)
    leaves = [f"mmlu_{s}" for s in SUBJECT_CATEGORY]  # lm-eval pools over leaf tasks
    top = ours[("mmlu", "acc")]
    sizes = [MMLU_LIMIT] * len(leaves)
    assert top["value"] == pytest.approx(aggregate_subtask_metrics(
        [theirs[t]["acc,none"] for t in leaves], sizes, True), abs=1e-6)
    assert top["stderr"] == pytest.approx(pooled_sample_stderr(
        [theirs[t]["acc_stderr,none"] for t in leaves], sizes), abs=1e-6)
    assert top["n"] == 57 * MMLU_LIMIT == len(samples)
    assert math.isclose(top["value"], sum(s["scores"]["acc"] for s in samples) / len(samples))
