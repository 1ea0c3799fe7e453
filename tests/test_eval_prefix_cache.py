"""FastLM's shared-prefix path (MMLU 5-shot: each subject's few-shot prefix computed once,
its key/value cache reused for every question and choice) scores exactly what lm-eval's HFLM
scores: per choice to 1e-4, same greedy flags, and, through lm-eval's own MMLU task with
five shots, the same accuracy. The grouping keeps each subject's whole prefix."""

from __future__ import annotations

import pytest

from ftp.plugins.evaluation.fast_lm import Tree
from ftp.plugins.evaluation.prefix_cache import group_by_prefix

SHOTS = {subject: "".join(f"Question {i} about {subject}: what is {i} + {i}?\nA. {2 * i}\n"
                          f"B. {i}\nC. {3 * i}\nD. 0\nAnswer: A\n\n" for i in range(5))
         for subject in ("algebra", "biology")}
QUESTIONS = ["Which is largest?\nA. 1\nB. 7\nC. 3\nD. 2\nAnswer:",
             "Which is a colour?\nA. red\nB. dog\nC. run\nD. six\nAnswer:",
             "Pick the even number.\nA. 3\nB. 5\nC. 8\nD. 9\nAnswer:"]


class _Request:
    def __init__(self, args):
        self.args = args


def _requests():
    return [_Request((shots + question, f" {letter}")) for shots in SHOTS.values()
            for question in QUESTIONS for letter in "ABCD"]


def test_groups_keep_each_subjects_prefix():
    prefix_a, prefix_b = [7] * 40 + [1] * 60, [7] * 40 + [2] * 60  # share 40 of 100 tokens
    trees = [Tree(prefix_a + [10 + i], [(i, [1])]) for i in range(3)] + \
            [Tree(prefix_b + [20 + i, 5], [(3 + i, [1])]) for i in range(2)] + \
            [Tree([9, 9, 9], [(5, [1])])]
    groups = group_by_prefix(trees, min_prefix=32)
    assert [len(g.prefix) for g in groups] == [0, 100, 100]
    assert [len(g.trees) for g in groups] == [1, 3, 2]
    assert all(len(t.context) >= 1 for g in groups for t in g.trees)  # last token kept


@pytest.fixture(scope="module")
def loaded(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model)).eval()
    return model, AutoTokenizer.from_pretrained(str(tiny_model))


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
def test_shared_prefix_scores_equal_hflm(loaded, implementation):
    from lm_eval.models.huggingface import HFLM

    from ftp.plugins.evaluation.fast_lm import FastLM

    model, tokenizer = loaded
    model.set_attn_implementation(implementation)
    theirs = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=1, max_length=1024)
    ours = FastLM(pretrained=model, tokenizer=tokenizer, batch_size=2, max_length=1024)
    requests = _requests()
    groups = ours._groups(ours._trees([r.args and (None, *ours._encode_pair(*r.args))
                                       for r in requests])[0])
    assert sorted(len(g.trees) for g in groups if g.prefix) == [3, 3]  # one prefix a subject
    expected = theirs.loglikelihood(requests, disable_tqdm=True)
    got = ours.loglikelihood(requests, disable_tqdm=True)
    model.set_attn_implementation("sdpa")
    assert max(abs(a[0] - b[0]) for a, b in zip(got, expected, strict=True)) <= 1e-4
    assert [a[1] for a in got] == [b[1] for b in expected]


def test_mmlu_five_shot_accuracy_equals_hflm(loaded):
    """lm-eval's MMLU task, 5-shot, two subjects: identical per-document results."""
    import lm_eval
    from conftest import BENCHDATA
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from ftp.plugins.evaluation import benchdata, tasks
    from ftp.plugins.evaluation.fast_lm import FastLM

    benchdata.import_benchmark("mmlu", BENCHDATA / "mmlu")
    manager = TaskManager(include_path=str(tasks.build(["mmlu"]).path), include_defaults=False)
    model, tokenizer = loaded
    prefixes = []

    class Counting(FastLM):  # records each prefix it caches
        def _prefix_cache(self, prefix):
            prefixes.extend([len(prefix)] if prefix else [])
            return super()._prefix_cache(prefix)

    scored = {}
    for name, lm in (("hflm", HFLM(pretrained=model, tokenizer=tokenizer, batch_size=4)),
                     ("ours", Counting(pretrained=model, tokenizer=tokenizer, batch_size=4))):
        out = lm_eval.simple_evaluate(model=lm, tasks=["mmlu_anatomy", "mmlu_virology"],
                                      num_fewshot=5, limit=4, verbosity="ERROR",
                                      task_manager=manager, log_samples=True)
        scored[name] = {task: [(s["doc_id"], s["acc"], [r[0] for r in s["filtered_resps"]])
                               for s in samples] for task, samples in out["samples"].items()}
    assert len(prefixes) == 2 and min(prefixes) > 300  # each subject's five shots, once
    for task, rows in scored["hflm"].items():
        ours = scored["ours"][task]
        assert [r[:2] for r in ours] == [r[:2] for r in rows]
        assert max(abs(a - b) for x, y in zip(ours, rows, strict=True)
                   for a, b in zip(x[2], y[2], strict=True)) <= 1e-4


def _default_model():
    """The pulled SmolLM2-135M-Instruct outside the test's own FTP_HOME, if any."""
    import os
    from pathlib import Path

    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    folder = base / "ftp" / "models" / "smollm2-135m-instruct"
    return folder if (folder / "config.json").is_file() else None


@pytest.mark.slow
def test_shared_prefix_scores_equal_hflm_on_the_default_model():
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftp.plugins.evaluation.fast_lm import FastLM

    folder = _default_model()
    if folder is None:
        pytest.skip("SmolLM2-135M-Instruct not pulled (ftp models pull smollm2-135m-instruct)")
    model = AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    requests = _requests()
    expected = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=4).loglikelihood(
        requests, disable_tqdm=True)
    got = FastLM(pretrained=model, tokenizer=tokenizer, batch_size=4).loglikelihood(
        requests, disable_tqdm=True)
    assert max(abs(a[0] - b[0]) for a, b in zip(got, expected, strict=True)) <= 1e-4
    assert [a[1] for a in got] == [b[1] for b in expected]
