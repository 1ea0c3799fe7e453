"""`ftp export`: the adapter and the merged model reload with the trained model's logits."""

from __future__ import annotations

import pytest
import torch

from ftp.plugins.models import load_model
from tests.test_train_support import train_tiny


@pytest.fixture
def trained(project, tiny_model, invoke):
    return train_tiny(project, tiny_model, invoke, steps=3, records=24, name="exp")


def _logits(model, ids):
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_adapter_and_merged_exports_reproduce_the_model(project, trained, invoke, tmp_path,
                                                        tiny_model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = invoke("export", "exp", "--adapter", str(tmp_path / "adapter"),
                    "--merged", str(tmp_path / "merged"))
    assert result.exit_code == 0, result.output
    model, tokenizer = load_model("exp", project)
    ids = tokenizer("summary of the billing ticket", return_tensors="pt")["input_ids"]
    expected = _logits(model, ids)

    base = AutoModelForCausalLM.from_pretrained(str(tiny_model))
    adapter = PeftModel.from_pretrained(base, str(tmp_path / "adapter"))
    merged = AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged"))
    assert not (tmp_path / "merged" / "adapter_config.json").exists()
    assert list((tmp_path / "merged").glob("*.safetensors"))
    assert torch.allclose(_logits(adapter, ids), expected, atol=1e-5)
    assert torch.allclose(_logits(merged, ids), expected, atol=1e-4)
    assert not torch.allclose(_logits(load_model(str(tiny_model))[0], ids), expected, atol=1e-4)


def test_export_refuses_bad_requests(project, trained, invoke, tmp_path):
    assert invoke("export", "exp").exit_code == 2
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    result = invoke("export", "exp", "--adapter", str(tmp_path / "busy"))
    assert result.exit_code == 2 and "not empty" in result.output
    result = invoke("export", "nope", "--merged", str(tmp_path / "m"))
    assert result.exit_code == 2 and "not a train run" in result.output
