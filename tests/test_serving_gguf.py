"""`ftp export --gguf`: the fine-tuned tiny Llama written as GGUF and read back by
transformers' own GGUF loader, with the merged model's logits.

f16: every weight is the merged weight rounded to f16, so the logits equal those of the
merged model with its weights rounded to f16 (measured: identical, difference 0.0) and stay
within 1e-3 of the float32 ones (measured 2.8e-4 on the tiny model). q8_0: within 0.02 of
the float32 logits (measured 6.3e-3 on the tiny model, whose logits are within +-1.4).
"""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftp.plugins.training.export import merged_model
from tests.test_train_support import train_tiny

TEXT = 'Summarise the email: {"category": "billing"} <|im_start|>user\nhi<|im_end|> 123'


@pytest.fixture
def trained(project, tiny_model, invoke):
    return train_tiny(project, tiny_model, invoke, steps=2, records=16, name="ft")


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def _read_back(path):
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                 dtype=torch.float32)
    return model.eval(), AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def test_gguf_round_trip_matches_the_merged_model(project, trained, invoke, tmp_path):
    merged, tokenizer = merged_model(project, "ft")
    ids = tokenizer(TEXT, return_tensors="pt")["input_ids"]
    expected = _logits(merged, ids)
    rounded = merged.__class__(merged.config).eval()
    rounded.load_state_dict({k: v.half().float() for k, v in merged.state_dict().items()})
    for quant, bound in (("f16", 1e-3), ("q8_0", 0.02)):
        path = tmp_path / quant / "ft.gguf"
        result = invoke("export", "ft", "--gguf", str(path), "--quant", quant)
        assert result.exit_code == 0, result.output
        assert f"gguf (llama, {quant}" in result.output
        model, read = _read_back(path)
        assert read(TEXT)["input_ids"] == tokenizer(TEXT)["input_ids"]
        assert read.chat_template == tokenizer.chat_template
        assert (read.eos_token, read.bos_token) == (tokenizer.eos_token, tokenizer.bos_token)
        got = _logits(model, ids)
        assert (got - expected).abs().max().item() < bound
        if quant == "f16":
            assert torch.equal(got, _logits(rounded, ids))
    assert not list(tmp_path.rglob("*.partial"))


def test_gguf_refuses_an_unsupported_architecture(project, invoke, tmp_path, tiny_model):
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64)).save_pretrained(
        str(folder))
    AutoTokenizer.from_pretrained(str(tiny_model)).save_pretrained(str(folder))
    target = tmp_path / "out.gguf"
    result = invoke("export", str(folder), "--gguf", str(target))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert "Llama, Mistral and Qwen2" in lines[0] and "'gpt2'" in lines[0]
    assert not target.exists() and not list(tmp_path.glob(".*partial"))
    assert project.runs() == []


def test_gguf_refuses_a_bad_target(project, invoke, tmp_path, tiny_model):
    result = invoke("export", str(tiny_model), "--gguf", str(tmp_path / "model.bin"))
    assert result.exit_code == 2 and "ending in .gguf" in result.output
    assert invoke("export", "nope", "--gguf", str(tmp_path / "m.gguf")).exit_code == 2
