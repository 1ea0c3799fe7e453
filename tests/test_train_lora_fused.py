"""The fused LoRA forward (`lora_fused.py`) computes PEFT's function: same loss and gradients
(exactly for a power-of-two scaling), DoRA keeps PEFT's forward, and PEFT's is back after."""

from __future__ import annotations

import pytest
import torch


def _model(tiny_model, **lora):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32)
    config = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0, **lora}
    model = get_peft_model(model, LoraConfig(target_modules="all-linear", task_type="CAUSAL_LM",
                                             **config))
    for name, parameter in model.named_parameters():
        if "lora_B" in name:  # B starts at zero; a non-zero B makes the update count
            torch.nn.init.normal_(parameter, std=0.05)
    return model.train()


def _loss_and_grads(model):
    torch.manual_seed(1)
    ids = torch.randint(5, 200, (2, 24))
    loss = model(input_ids=ids, labels=ids, use_cache=False).loss
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    return loss.item(), grads


@pytest.mark.parametrize("alpha,tolerance", [(16, 0.0), (12, 1e-6)])
def test_fused_lora_equals_peft(tiny_model, alpha, tolerance):
    from ftp.plugins.training.lora_fused import _plain, fused_lora

    model = _model(tiny_model, lora_alpha=alpha)
    layer = next(m for m in model.modules() if hasattr(m, "lora_variant"))
    assert _plain(layer, torch.zeros(1, 4, layer.in_features), (), {}) == "default"
    loss, grads = _loss_and_grads(model)
    with fused_lora(model) as layers:
        fused_loss, fused_grads = _loss_and_grads(model)
    assert layers > 0
    assert fused_loss == pytest.approx(loss, rel=tolerance, abs=tolerance)
    for name, grad in grads.items():
        assert torch.allclose(fused_grads[name], grad, rtol=tolerance, atol=tolerance), name
    assert all("forward" not in m.__dict__ for m in model.modules())  # PEFT's forward again


def test_dora_keeps_peft_forward(tiny_model):
    from ftp.plugins.training import lora_fused

    model = _model(tiny_model, use_dora=True)
    layer = next(m for m in model.modules() if hasattr(m, "lora_variant"))
    assert lora_fused._plain(layer, torch.zeros(1, 4, layer.in_features), (), {}) is None
    loss, grads = _loss_and_grads(model)
    with lora_fused.fused_lora(model):
        again, _ = _loss_and_grads(model)
    assert again == loss
