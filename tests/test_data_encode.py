"""Formatting and tokenization: templates, response-only labels, EOS, truncation, stats."""

from __future__ import annotations

import json

import pytest

from ftp.errors import UserError
from ftp.plugins.data.api import encode_records, import_dataset, prompt_and_reference
from ftp.plugins.data.tokenize import IGNORE

ALPACA = {"format": "alpaca", "instruction": "Classify the ticket", "input": "router down",
          "output": "outage"}
CHAT = {"format": "chat", "messages": [
    {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"}]}


@pytest.fixture(scope="module")
def tok(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model))


def trained_text(tok, example) -> str:
    return tok.decode([t for t, lab in zip(example["input_ids"], example["labels"],
                                           strict=True) if lab != IGNORE])


def test_chat_template_masks_the_prompt_and_appends_eos(tok):
    data = encode_records([CHAT, ALPACA], tok)
    chat, alpaca = data.examples
    assert tok.decode(chat["input_ids"]) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello<|im_end|>")
    assert trained_text(tok, chat) == "Hello<|im_end|>"
    assert chat["input_ids"][-1] == tok.eos_token_id
    assert trained_text(tok, alpaca) == "outage<|im_end|>"
    assert data.stats == {"examples": 2, "dropped": 0, "truncated": 0, "no_labels": 0,
                          "tokens": len(chat["input_ids"]) + len(alpaca["input_ids"])}


def test_the_trained_prompt_is_the_generation_prompt(tok):
    prompt, reference = prompt_and_reference(CHAT, tok)
    assert prompt.endswith("<|im_start|>assistant\n") and reference == "Hello"
    example = encode_records([CHAT], tok).examples[0]
    masked = [t for t, lab in zip(example["input_ids"], example["labels"], strict=True)
              if lab == IGNORE]
    assert tok.decode(masked) == prompt


@pytest.mark.parametrize("template,start", [
    ("alpaca", "Below is an instruction that describes a task, paired with an input"),
    ("plain", "Classify the ticket\n\nrouter down\noutage"),
])
def test_named_templates(tok, template, start):
    example = encode_records([ALPACA], tok, template=template).examples[0]
    assert tok.decode(example["input_ids"]).startswith(start)
    assert trained_text(tok, example) == "outage<|im_end|>"


def test_whole_text_loss_and_text_records(tok):
    example = encode_records([ALPACA], tok, train_on_responses_only=False).examples[0]
    assert example["labels"] == example["input_ids"]
    text = encode_records([{"format": "text", "text": "The quick brown fox."}], tok)
    assert trained_text(tok, text.examples[0]) == "The quick brown fox.<|im_end|>"


def test_user_jinja_template(tok, tmp_path):
    path = tmp_path / "t.jinja"
    path.write_text("Q: {{ instruction }} [{{ input }}]\nA: {{ response }}\n-- end")
    example = encode_records([ALPACA], tok, template=str(path)).examples[0]
    assert tok.decode(example["input_ids"]) == \
        "Q: Classify the ticket [router down]\nA: outage\n-- end<|im_end|>"
    assert trained_text(tok, example) == "outage\n-- end<|im_end|>"


def test_truncation_modes(tok):
    long = dict(ALPACA, output="word " * 200)
    records = [ALPACA, long]
    dropped = encode_records(records, tok, max_length=64, truncation="drop")
    assert dropped.stats["dropped"] == 1 and len(dropped) == 1
    cut = encode_records(records, tok, max_length=64, truncation="truncate")
    assert cut.stats["truncated"] == 1 and max(map(len, (e["input_ids"] for e in
                                                         cut.examples))) == 64
    with pytest.raises(UserError, match="example 2 has .* tokens, more than max_length 64"):
        encode_records(records, tok, max_length=64, truncation="error")


def test_loud_error_when_nothing_is_left_to_learn(tok):
    empty = {"format": "prompt_completion", "prompt": "Say something", "completion": ""}
    with pytest.raises(UserError, match="nothing to learn"):
        encode_records([empty, empty], tok)
    with pytest.raises(UserError, match="every example was dropped"):
        encode_records([ALPACA], tok, max_length=4)


def test_batched_encoding_equals_one_by_one(tok):
    records = [dict(ALPACA, output=f"label {i}") for i in range(50)] + [CHAT, MULTI]
    together = encode_records(records, tok, batch_size=16).examples
    alone = [encode_records([r], tok).examples[0] for r in records]
    assert together == alone


def test_stats_and_show_commands(project, invoke, tiny_model, tmp_path):
    rows = [{"instruction": f"Classify ticket {i}: the router is down again",
             "output": "outage " * (1 + i % 5)} for i in range(40)]
    (project.root / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_dataset(project, project.root / "t.jsonl")
    png = tmp_path / "h.png"
    result = invoke("data", "stats", "--model", str(tiny_model), "--histogram", str(png),
                    "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output[result.output.index("{"):])
    train = stats["splits"]["train"]
    assert train["examples"] == train["sources"]["t.jsonl"] > 0
    assert train["token_lengths"]["p50"] <= train["token_lengths"]["p100"]
    assert png.read_bytes().startswith(b"\x89PNG")
    shown = invoke("data", "show", "--model", str(tiny_model), "--tokens", "5", "-n", "1")
    assert shown.exit_code == 0, shown.output
    assert "round trip ok" in shown.output and "'<|im_start|>'" in shown.output


MULTI = {"format": "chat", "messages": [
    {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Router down?"},
    {"role": "assistant", "content": "Restart it"}, {"role": "user", "content": "Thanks"},
    {"role": "assistant", "content": "Welcome"}]}


def trained_spans(tok, example) -> list[str]:
    spans, current = [], []
    for token, label in zip(example["input_ids"], example["labels"], strict=True):
        if label != IGNORE:
            current.append(token)
        elif current:
            spans.append(tok.decode(current))
            current = []
    return spans + ([tok.decode(current)] if current else [])


def test_multi_turn_chat_trains_every_assistant_turn(tok):
    example = encode_records([MULTI], tok).examples[0]
    full = tok.apply_chat_template(MULTI["messages"], tokenize=False)
    assert tok.decode(example["input_ids"]) == full.rstrip("\n")
    assert trained_spans(tok, example) == ["Hello<|im_end|>", "Restart it<|im_end|>",
                                           "Welcome<|im_end|>"]
    masked = tok.decode([t for t, lab in zip(example["input_ids"], example["labels"],
                                             strict=True) if lab == IGNORE])
    assert "Router down?" in masked and "Thanks" in masked and "Hello" not in masked
    # the last turn alone is still what (prompt, response) formatters and eval see
    prompt, reference = prompt_and_reference(MULTI, tok)
    assert reference == "Welcome" and "Restart it" in prompt


def test_multi_turn_truncation_keeps_the_earlier_turns(tok):
    example = encode_records([MULTI], tok).examples[0]
    cut = encode_records([MULTI], tok, max_length=len(example["input_ids"]) - 8,
                         truncation="truncate").examples[0]
    assert trained_spans(tok, cut)[:2] == ["Hello<|im_end|>", "Restart it<|im_end|>"]
