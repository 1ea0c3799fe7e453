"""The fused LoRA forward (`lora_fused.py`) computes PEFT's function: same loss and gradients
(exactly for a power-of-two scaling; the same bf16 products under autocast), DoRA keeps PEFT's
forward, and PEFT's is back after. ``precision`` chooses autocast only where asked for."""

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


def _loss_and_grads(model, bf16: bool = False):
    torch.manual_seed(1)
    ids = torch.randint(5, 200, (2, 24))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
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


def test_fused_lora_under_autocast_equals_peft(tiny_model):
    from ftp.plugins.training.lora_fused import _plain, fused_lora

    model = _model(tiny_model)
    layer = next(m for m in model.modules() if hasattr(m, "lora_variant"))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert _plain(layer, torch.zeros(1, 4, layer.in_features), (), {}) == "default"
    loss, grads = _loss_and_grads(model, bf16=True)
    with fused_lora(model):
        fused_loss, fused_grads = _loss_and_grads(model, bf16=True)
    assert all(g.dtype == torch.float32 for g in fused_grads.values())  # weights stay fp32
    assert fused_loss == pytest.approx(loss, abs=1e-3)  # bf16 rounding, summed differently
    for name, grad in grads.items():
        scale = grad.abs().max().item() or 1.0
        assert (fused_grads[name] - grad).abs().max().item() <= 0.03 * scale, name


def test_precision_setting_chooses_autocast():
    from ftp.plugins.training import sections
    from ftp.plugins.training.engine import use_bf16

    declared = next(s for s in sections.TRAIN if s.key == "precision")
    assert declared.default == "auto" and set(declared.choices) == {"auto", "fp32", "bf16"}
    assert use_bf16("bf16") and not use_bf16("fp32")
    assert use_bf16("auto") == (torch.cuda.is_available() and torch.cuda.is_bf16_supported())
