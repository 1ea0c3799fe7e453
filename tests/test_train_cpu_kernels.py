"""ftp's CPU training kernels compute what they replace: per-example bf16 attention
(`cpu_attention.py`) against fp32 attention and PyTorch's bf16 flash kernel, the blockwise
cross-entropy (`chunked_ce.py`) and the LM head fused with its loss (`fused_head.py`)
against ``F.cross_entropy`` on full logits, through ``response_loss`` on the tiny model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ftp.plugins.training import cpu_attention
from ftp.plugins.training.chunked_ce import summed_cross_entropy
from ftp.plugins.training.fused_head import HeadState, _fusable, fused_head, head_cross_entropy

LENGTHS = [1, 7, 128, 129, 300, 40]  # a single token, block edges, several blocks


def _qkv(dtype=torch.bfloat16, heads=6, kv_heads=2, dim=16, lengths=LENGTHS):
    torch.manual_seed(0)
    tokens = sum(lengths)
    return [torch.randn(1, h, tokens, dim).to(dtype).requires_grad_()
            for h in (heads, kv_heads, kv_heads)]


def _per_example(q, k, v, lengths=LENGTHS):
    return torch.cat([F.scaled_dot_product_attention(a, b, c, is_causal=True, enable_gqa=True)
                      .transpose(1, 2) for a, b, c in
                      zip(*(t.split(lengths, dim=2) for t in (q, k, v)), strict=True)], dim=1)


def _relative(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def _run(attention, tensors, grad):
    out = attention(*tensors)
    out.backward(grad)
    found = [out.detach()] + [t.grad.clone() for t in tensors]
    for t in tensors:
        t.grad = None
    return found


def test_bf16_attention_as_close_to_fp32_as_the_flash_kernel():
    q, k, v = _qkv()
    exact = [t.detach().float().requires_grad_() for t in (q, k, v)]
    grad = torch.randn(1, sum(LENGTHS), 6, 16)
    reference = _run(_per_example, exact, grad)
    ours = _run(lambda *t: cpu_attention.segment_attention_bf16(*t, LENGTHS, None),
                [q, k, v], grad.bfloat16())
    flash = _run(_per_example, [q, k, v], grad.bfloat16())
    assert ours[0].shape == reference[0].shape and ours[0].dtype == torch.bfloat16
    for mine, theirs, truth in zip(ours, flash, reference, strict=True):  # out, dq, dk, dv
        assert _relative(mine, truth) < 1e-2
        assert _relative(mine, truth) <= 2 * _relative(theirs, truth) + 2e-3


def test_bf16_attention_is_causal_within_each_example_only():
    q, k, v = _qkv(lengths=[5, 9])
    out = cpu_attention.segment_attention_bf16(q, k, v, [5, 9], None)
    later = v.detach().clone()
    later[:, :, 8:] += 10.0  # positions 8.. must not reach earlier positions of either example
    again = cpu_attention.segment_attention_bf16(q, k, later, [5, 9], None)
    assert torch.equal(out[:, :8], again[:, :8])
    other = v.detach().clone()
    other[:, :, :5] += 10.0  # the first example's values must not reach the second's outputs
    assert torch.equal(out[:, 5:], cpu_attention.segment_attention_bf16(q, k, other, [5, 9],
                                                                        None)[:, 5:])
    assert not torch.equal(out[:, 8:], again[:, 8:])


def test_bf16_attention_taken_under_autocast_only_where_it_pays():
    q = torch.zeros(1, 2, 4, 8, requires_grad=True)
    assert not cpu_attention.usable(q, 0.0)  # fp32 training keeps the flash kernel
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert cpu_attention.usable(q, 0.0)
        assert not cpu_attention.usable(q, 0.1)  # dropout
        assert not cpu_attention.usable(q.detach(), 0.0)  # no gradient: evaluation


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_blockwise_cross_entropy_equals_full(dtype):
    torch.manual_seed(0)
    logits = (torch.randn(300, 1000) * 4).to(dtype).requires_grad_()
    targets = torch.randint(0, 1000, (300,))
    targets[::3] = -100
    full = F.cross_entropy(logits.float(), targets, ignore_index=-100, reduction="sum")
    full.backward()
    expected = logits.grad.clone()
    logits.grad = None
    ours = summed_cross_entropy(logits, targets)
    ours.backward()
    assert ours.item() == pytest.approx(full.item(), rel=1e-6)
    assert logits.grad.dtype == dtype
    assert torch.allclose(logits.grad.float(), expected.float(), rtol=1e-2, atol=1e-6)
    assert not logits.grad[::3].any()  # ignored positions get no gradient


def _head(vocabulary=1000, hidden=32, trainable=False):
    torch.manual_seed(0)
    head = torch.nn.Linear(hidden, vocabulary, bias=False)
    head.weight.requires_grad_(trainable)
    return head


@pytest.mark.parametrize("bf16,trainable", [(False, False), (True, False), (False, True)])
def test_fused_head_equals_logits_then_cross_entropy(bf16, trainable):
    head = _head(trainable=trainable)
    hidden = torch.randn(300, 32).requires_grad_()  # > one block of 128 positions
    targets = torch.randint(0, 1000, (300,))
    targets[5::4] = -100
    results = []
    for fused in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = (head_cross_entropy(hidden, HeadState(head), targets) if fused
                    else F.cross_entropy(head(hidden).float(), targets, reduction="sum"))
        (loss / 7).backward()
        results.append((loss.item(), hidden.grad.clone(),
                        head.weight.grad.clone() if trainable else None))
        hidden.grad = head.weight.grad = None
    (full, full_hidden, full_weight), (ours, our_hidden, our_weight) = results
    assert ours == pytest.approx(full, rel=1e-6 if not bf16 else 1e-5)
    assert _relative(our_hidden, full_hidden) < (1e-5 if not bf16 else 1e-2)
    if trainable:
        assert _relative(our_weight, full_weight) < 1e-5


def test_fused_head_loss_exact_for_a_vanishing_probability():
    head = _head(vocabulary=50, hidden=4)
    with torch.no_grad():
        head.weight.zero_()
        head.weight[0, 0] = 200.0  # token 0 dominates: others' probability ~ e^-200
    hidden = torch.tensor([[1.0, 0, 0, 0]])
    targets = torch.tensor([3])
    ours = head_cross_entropy(hidden, HeadState(head), targets)
    assert ours.item() == pytest.approx(F.cross_entropy(head(hidden), targets).item(), rel=1e-5)


def test_fused_head_only_for_plain_heads(tiny_model):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32)
    assert _fusable(model) is model.lm_head
    model.config.final_logit_softcapping = 30.0  # a model that transforms its logits
    assert _fusable(model) is None
    model.config.final_logit_softcapping = None
    handle = model.lm_head.register_forward_hook(lambda *a: None)
    assert _fusable(model) is None
    handle.remove()
    with fused_head(model) as fused:
        assert fused and hasattr(model.lm_head, "_ftp_head_state")
    assert not hasattr(model.lm_head, "_ftp_head_state")


@pytest.mark.parametrize("bf16", [False, True])
def test_response_loss_with_ftp_kernels_equals_plain_path(tiny_model, bf16):
    """ftp's fast paths (segment attention, fused LoRA, fused head and under bf16 the bf16
    attention) against full logits and ``F.cross_entropy``, same LoRA model and batch."""
    from ftp.plugins.training.engine import fast_paths, segment_attention
    from ftp.plugins.training.loss import labelled_positions, response_loss
    from ftp.plugins.training.packing import PackingCollator
    from tests.test_train_lora_fused import _model

    model = _model(tiny_model)
    torch.manual_seed(2)
    examples = []
    for length in (9, 140, 33):
        ids = torch.randint(5, 200, (length,)).tolist()
        examples.append({"input_ids": ids, "labels": [-100] * (length // 2) + ids[length // 2:]})
    batch = PackingCollator(0, flat=True)(examples)
    batch.pop("num_real_tokens")

    def plain():
        inputs = dict(batch)
        keep, targets = labelled_positions(inputs.pop("labels"))
        logits = model(**inputs, logits_to_keep=keep, use_cache=False).logits
        return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(),
                               reduction="sum") / (targets != -100).sum()

    found = []
    for ours in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if ours:
                with fast_paths(model, True, bf16):
                    loss = response_loss(model, batch)[0]
                    loss.backward()
            else:
                with segment_attention(model, True):
                    loss = plain()
                    loss.backward()
        found.append((loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()
                                    if p.grad is not None}))
        model.zero_grad()
    (loss, grads), (our_loss, our_grads) = found
    assert our_loss == pytest.approx(loss, abs=1e-5 if not bf16 else 2e-3)
    assert our_grads.keys() == grads.keys()
    worst = max(_relative(our_grads[n], grads[n]) for n in grads)
    assert worst < (1e-4 if not bf16 else 0.1)
