"""The leakage audit scores candidates as continuations of one context computed once (its
key/value cache), as FastLM scores choices: the exposures equal the old computation, every
``context + candidate`` run as its own sequence, within 1e-4 (tiny model, plain and with a
LoRA adapter), and the audit shows progress with an ETA."""

from __future__ import annotations

import random

import pytest

from ftp.plugins.audit import scoring
from ftp.plugins.audit.leakage import audit_model, canary_context, exposure, load_model
from ftp.privacy.canaries import make_canaries, random_secret


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return load_model(tiny_model)


def _old(model, tokenizer, context, continuations):
    """The old computation: each context + continuation tokenised and run whole."""
    base = tokenizer(context.rstrip(" "), add_special_tokens=False)["input_ids"]
    sequences = [tokenizer(context + c, add_special_tokens=False)["input_ids"]
                 for c in continuations]
    begins = [scoring.common_prefix(base, s) for s in sequences]
    return scoring.full_sequences(model, tokenizer, sequences, begins, batch_size=16)


def _contexts(tokenizer):
    rng = random.Random(3)
    for canary in make_canaries(3, seed=1):
        yield canary_context(tokenizer, canary), [canary["secret"],
                                                  *(random_secret(rng) for _ in range(40))]
    # placeholder sites: values of different lengths, one merging with the context's end
    yield "Ticket from Ana: call me on ", ["<PHONE_NUMBER>", "+1 415-555-0132", "(206) 555",
                                           "0", "an unusually long value that goes on"]
    yield "Dear", [" <PERSON>", "est Ana", ", Ana Lima", "ly beloved"]


def test_cached_context_scores_equal_the_old_computation(tiny):
    model, tokenizer = tiny
    for context, candidates in _contexts(tokenizer):
        old = _old(model, tokenizer, context, candidates)
        new = scoring.continuation_logprobs(model, tokenizer, context, candidates,
                                            batch_size=8)
        assert new == pytest.approx(old, abs=1e-4)
        assert exposure(new[0], new[1:])["rank"] == exposure(old[0], old[1:])["rank"]


def test_with_a_lora_adapter_too(tiny_model):
    from peft import LoraConfig, get_peft_model

    model, tokenizer = load_model(tiny_model)  # its own copy: the adapter goes into it
    wrapped = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                                               init_lora_weights=False)).eval()
    context, candidates = next(_contexts(tokenizer))
    new = scoring.continuation_logprobs(wrapped, tokenizer, context, candidates)
    assert new == pytest.approx(_old(wrapped, tokenizer, context, candidates), abs=1e-4)
    with wrapped.disable_adapter():  # the adapter is in the scores
        assert new != pytest.approx(_old(wrapped, tokenizer, context, candidates), abs=1e-3)


def test_the_audit_shows_progress_with_an_eta(tiny, capsys, monkeypatch):
    from ftp import progress

    monkeypatch.setattr(progress._Settings, "log_every_s", 0.0)
    model, tokenizer = tiny
    canaries = make_canaries(2, seed=4)
    result = audit_model(model, tokenizer, canaries, candidates=50)
    assert len(result["canaries"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines()
             if line.startswith("leakage audit: canaries")]
    assert any("ETA" in line for line in lines)
    assert lines[-1].startswith("leakage audit: canaries: 102/102 sequences")


def test_shared_first_tokens_run_once():
    """The cut feeds the fewest tokens: one shared token, then ten distinct, then all apart."""
    from ftp.plugins.audit.heads import head_length

    tails = [[7, i % 10, 100 + i, 200 + i, 300 + i] for i in range(40)]
    assert head_length(tails) == 2  # 10 heads x 2 + 40 x 2 fed, against 1 + 40 x 3
    assert head_length([[7, 1], [7, 2]]) == 1  # every tail keeps a token after its head
    assert head_length([[1, 2, 3, 4]] * 5) == 3  # identical tails: one head, one token left


def test_an_empty_or_one_token_candidate_still_scores(tiny):
    model, tokenizer = tiny
    context, candidates = "Call me on ", ["", "5", "55", "555 0132"]
    new = scoring.continuation_logprobs(model, tokenizer, context, candidates, batch_size=2)
    assert new == pytest.approx(_old(model, tokenizer, context, candidates), abs=1e-4)
