"""Frozen LoRA base weights held in bf16 under bf16 autocast (`frozen_bf16.py`): the same
loss and gradients as autocast casting fp32 weights (bitwise), the fused LoRA path still
taken, DoRA and fp32 training untouched, and the fp32 weights back afterwards."""

from __future__ import annotations

import torch

from tests.test_train_lora_fused import _loss_and_grads, _model


def test_bf16_base_weights_give_autocast_numbers(tiny_model):
    from ftp.plugins.training.frozen_bf16 import frozen_weights_in_bf16
    from ftp.plugins.training.lora_fused import _plain, fused_lora

    model = _model(tiny_model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    with fused_lora(model):
        loss, grads = _loss_and_grads(model, bf16=True)
        with frozen_weights_in_bf16(model, enabled=True) as changed:
            layer = next(m for m in model.modules() if hasattr(m, "lora_variant"))
            assert layer.base_layer.weight.dtype == torch.bfloat16
            with torch.autocast("cpu", dtype=torch.bfloat16):
                assert _plain(layer, torch.zeros(1, 4, layer.in_features), (), {}) == "default"
            held_loss, held_grads = _loss_and_grads(model, bf16=True)
    assert changed == sum(1 for m in model.modules() if hasattr(m, "lora_variant"))
    assert held_loss == loss
    for name, grad in grads.items():
        assert torch.equal(held_grads[name], grad), name
    for name, parameter in model.named_parameters():  # the very fp32 values again
        assert parameter.dtype == before[name].dtype and torch.equal(parameter, before[name])


def test_off_and_dora_leave_weights_alone(tiny_model):
    from ftp.plugins.training.frozen_bf16 import frozen_weights_in_bf16, lora_base_layers

    with frozen_weights_in_bf16(_model(tiny_model), enabled=False) as changed:
        assert changed == 0
    dora = _model(tiny_model, use_dora=True)
    assert lora_base_layers(dora) == []
    with frozen_weights_in_bf16(dora, enabled=True) as changed:
        assert changed == 0
        assert all(p.dtype == torch.float32 for p in dora.parameters())


def test_ftp_train_in_bf16_holds_base_weights_in_bf16_only_while_training(
        project, tiny_model, invoke, monkeypatch):
    """`[train] precision = "bf16"` through `ftp train`: the LoRA base layers are bf16 in
    the steps (seen from a step), the run finishes and saves its fp32 adapter."""
    import json

    from safetensors.torch import load_file
    from transformers import TrainerCallback

    from ftp.plugins.training import engine
    from ftp.plugins.training.frozen_bf16 import lora_base_layers
    from tests.test_train_support import import_records, make_records, write_config

    seen: list[set] = []

    class Watch(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            seen.append({layer.weight.dtype for layer in lora_base_layers(model)})

    original = engine.callbacks
    monkeypatch.setattr(engine, "callbacks", lambda *a: [*original(*a), Watch()])
    write_config(project, str(tiny_model), max_steps=2, precision="bf16")
    import_records(project, make_records(24))
    result = invoke("-q", "train", "--json", "--name", "bf16")
    assert result.exit_code == 0, result.output
    assert seen and all(dtypes == {torch.bfloat16} for dtypes in seen)
    final = json.loads(result.stdout)["summary"]["final_model"]
    saved = load_file(f"{final}/adapter_model.safetensors")
    assert saved and all(t.dtype == torch.float32 for t in saved.values())
