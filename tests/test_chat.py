"""`ftp chat` (streaming, scrubbed replies) and `ftp bench latency` with the tiny model."""

from __future__ import annotations

import json

import pytest

from ftp.plugins.generation import decoding as generation


@pytest.fixture(scope="module")
def loaded(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model)


@pytest.mark.parametrize("strategy", ["static", "loop"])
def test_every_strategy_decodes_the_same_tokens_as_generate(loaded, strategy):
    model, tokenizer = loaded
    ids = generation.chat_inputs(tokenizer, [{"role": "user", "content": "Classify the ticket."}])
    batch = ids.repeat(2, 1)
    expected = generation.generate_ids(model, tokenizer, batch, 12, "plain", min_new_tokens=12)
    assert generation.generate_ids(model, tokenizer, batch, 12, strategy,
                                   min_new_tokens=12) == expected
    assert len(expected[0]) == 12


def test_stream_reply_yields_the_decoded_reply(loaded):
    model, tokenizer = loaded
    messages = [{"role": "user", "content": "Summarise the email."}]
    ids = generation.chat_inputs(tokenizer, messages)
    tokens = generation.generate_ids(model, tokenizer, ids, 10, "plain")[0]
    pieces = list(generation.stream_reply(model, tokenizer, messages, 10, strategy="loop"))
    assert "".join(pieces) == tokenizer.decode(tokens, skip_special_tokens=True)


def test_chat_streams_replies_from_stdin(project, invoke, tiny_model):
    result = invoke("chat", str(tiny_model), "--max-new-tokens", "5", "--no-scrub",
                    input="hello there\nand again\n/exit\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("model> ") == 2


def test_chat_scrubs_replies_when_the_policy_says_so(project, invoke, tiny_model, monkeypatch):
    leaky = "Sure, call Jane on (415) 555-0134 or mail jane.doe@example.com."
    monkeypatch.setattr(generation, "stream_reply", lambda *a, **k: iter([leaky[:9], leaky[9:]]))
    result = invoke("chat", str(tiny_model), input="who?\n")
    assert result.exit_code == 0, result.output
    assert "<PHONE_NUMBER>" in result.output and "<EMAIL_ADDRESS>" in result.output
    assert "555-0134" not in result.output and "jane.doe@" not in result.output
    raw = invoke("chat", str(tiny_model), "--no-scrub", input="who?\n")
    assert "555-0134" in raw.output


def test_chat_with_a_missing_model_is_a_clear_error(project, invoke, tmp_path):
    result = invoke("chat", str(tmp_path / "no-such-model"), input="hi\n")
    assert result.exit_code == 2 and "does not exist" in result.output


def test_bench_latency_reports_speed_and_cost(project, invoke, tiny_model):
    result = invoke("bench", "latency", str(tiny_model), "--new-tokens", "4", "--batch", "2",
                    "--repeats", "1", "--price-per-hour", "3.6", "--json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.output[result.output.index("[\n"):])[0]
    assert row["strategy"] == "static" and row["ttft_ms"] > 0 and row["ms_per_token"] > 0
    assert row["tokens_per_s_batch2"] > 0
    # $3.60/hour = $0.001/s: a million tokens at T tokens/s cost 1000/T dollars.
    assert row["cost_per_m_tokens_batch1"] == pytest.approx(1000 / row["tokens_per_s_batch1"],
                                                            rel=1e-3)
    bad = invoke("bench", "latency", str(tiny_model), "--new-tokens", "1")
    assert bad.exit_code == 2
