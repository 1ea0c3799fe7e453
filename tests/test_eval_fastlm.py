"""FastLM scores exactly what lm-eval's HFLM scores (per choice, to 1e-4, same greedy flags)
however trees are packed into rows, on a plain and a LoRA-wrapped model, with the too-long
fallback; and its packing keeps every row within its width."""

from __future__ import annotations

import pytest

CONTEXTS = ["Question: Which gas do plants take in?\nAnswer:",
            "The cat sat on the",
            "Question: 2 + 2 =\nAnswer:",
            "A very long context. " * 40]  # longer than the tiny model's max length below
CHOICES = [" carbon dioxide", " oxygen", " nitrogen gas today", " mat", " hat", " 4", " five"]


class _Request:
    def __init__(self, args):
        self.args = args


def _requests():
    return [_Request((context, choice)) for context in CONTEXTS for choice in CHOICES]


@pytest.fixture(scope="module")
def loaded(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model)).eval()
    return model, AutoTokenizer.from_pretrained(str(tiny_model))


def _compare(model, tokenizer, **options):
    from lm_eval.models.huggingface import HFLM

    from ftp.plugins.evaluation.fast_lm import FastLM

    requests = _requests()
    theirs = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=1, max_length=128)
    ours = FastLM(pretrained=model, tokenizer=tokenizer, batch_size=4, max_length=128,
                  **options)
    expected = theirs.loglikelihood(requests, disable_tqdm=True)
    got = ours.loglikelihood(requests, disable_tqdm=True)
    assert max(abs(a[0] - b[0]) for a, b in zip(got, expected, strict=True)) <= 1e-4
    assert [a[1] for a in got] == [b[1] for b in expected]


@pytest.mark.parametrize("options", [{}, {"row_tokens": 1}, {"row_tokens": 512,
                                                             "max_batch_tokens": 64}])
def test_fastlm_equals_hflm_however_packed(loaded, options):
    _compare(*loaded, **options)


def test_fastlm_equals_hflm_on_a_lora_model(loaded):
    from peft import LoraConfig, get_peft_model

    model, tokenizer = loaded
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"],
                        init_lora_weights=False)  # random B: the adapter changes the scores
    _compare(get_peft_model(model, config).eval(), tokenizer)


def test_packing_fills_rows_within_their_width():
    from ftp.plugins.evaluation.fast_lm import Tree, _pack, _width

    trees = [Tree(list(range(n)), [(i, [1, 2])]) for i, n in enumerate([50, 40, 30, 20, 10, 5])]
    rows = _pack(trees, 60)
    assert all(_width(row) <= 60 for row in rows)
    assert sorted(t.members[0][0] for row in rows for t in row) == list(range(6))
    assert len(rows) == 3  # lengths 51 41 31 21 11 6, first fit decreasing: 51+6, 41+11, 31+21
