"""Packing: examples in one row never see each other, and the loss equals padding's."""

from __future__ import annotations

import random

import pytest
import torch

from ftp.plugins.models import load_model
from ftp.plugins.training.packing import PackingCollator, PaddingCollator, pack_rows


def _examples(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    found = []
    for _ in range(n):
        ids = [rng.randrange(5, 300) for _ in range(rng.randint(3, 40))]
        cut = rng.randint(1, len(ids) - 1)
        found.append({"input_ids": ids, "labels": [-100] * cut + ids[cut:]})
    return found


def test_pack_rows_places_every_example_once_within_capacity():
    lengths = [random.Random(1).randint(1, 50) for _ in range(40)]
    rows = pack_rows(lengths, 64)
    assert sorted(i for row in rows for i in row) == list(range(40))
    assert all(sum(lengths[i] for i in row) <= 64 for row in rows)
    assert pack_rows([100, 3], 64) == [[0], [1]] or pack_rows([100, 3], 64)[0] == [0]


def test_position_ids_restart_per_example():
    batch = PackingCollator(0, flat=True)(_examples(3))
    positions = batch["position_ids"][0].tolist()
    assert positions.count(0) == 3
    rows = PackingCollator(0, row_tokens=1000)(_examples(3))
    assert (rows["labels"] != -100).sum() == (batch["labels"] != -100).sum()
    assert batch["num_real_tokens"].item() == sum(len(e["input_ids"]) for e in _examples(3))


@pytest.fixture(scope="module")
def model(tiny_model):
    model, _ = load_model(tiny_model, for_training=True)
    model.eval()
    return model


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_logits_equal_each_example_alone(model, attention):
    model.set_attn_implementation(attention)
    examples = _examples(6) + [{"input_ids": list(range(5, 65)), "labels": list(range(5, 65))}]
    batch = PackingCollator(0, row_tokens=64)(examples)
    lengths = [len(e["input_ids"]) for e in examples]
    rows = pack_rows(lengths, min(64, max(lengths)))  # rows no wider than the longest
    assert any(len(row) > 1 for row in rows)
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                       use_cache=False).logits
        worst = 0.0
        for r, members in enumerate(rows):
            offset = 0
            for i in members:
                ids = examples[i]["input_ids"]
                alone = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
                part = packed[r, offset:offset + len(ids)]
                worst = max(worst, (part - alone).abs().max().item())
                offset += len(ids)
    model.set_attn_implementation("sdpa")
    assert worst < 1e-4


def test_packed_loss_and_gradients_equal_padded(model):
    examples = _examples(8, seed=3)
    packed = PackingCollator(0, row_tokens=128)(examples)
    padded = PaddingCollator(0)(examples)
    losses, grads = [], []
    for batch in (packed, padded):
        batch = {k: v for k, v in batch.items() if k != "num_real_tokens"}
        model.zero_grad()
        loss = model(**batch, use_cache=False).loss
        loss.backward()
        losses.append(loss.item())
        grads.append(model.model.layers[0].self_attn.q_proj.weight.grad.clone())
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
    assert padded["input_ids"].numel() > packed["input_ids"].numel()


def test_flat_collator_has_no_padding_and_marks_examples():
    examples = _examples(5, seed=2)
    batch = PackingCollator(0, flat=True)(examples)
    lengths = [len(e["input_ids"]) for e in examples]
    assert batch["input_ids"].shape == (1, sum(lengths))
    assert batch["cu_seq_lens_q"].tolist() == [sum(lengths[:i]) for i in range(6)]
    assert batch["num_real_tokens"].item() == sum(lengths)


@pytest.fixture
def segments(model):
    from ftp.plugins.training.engine import segment_attention

    with segment_attention(model, True) as flat:
        assert flat and model.config._attn_implementation == "ftp_segments"
        yield model
    assert model.config._attn_implementation == "sdpa"


def test_segment_attention_logits_equal_each_example_alone(segments):
    examples = _examples(6, seed=4)
    batch = PackingCollator(0, flat=True)(examples)
    batch.pop("num_real_tokens"), batch.pop("labels")
    with torch.no_grad():
        flat = segments(**batch, use_cache=False).logits[0]
    segments.set_attn_implementation("sdpa")
    cuts = batch["cu_seq_lens_q"].tolist()
    with torch.no_grad():
        for example, start in zip(examples, cuts, strict=False):
            ids = example["input_ids"]
            alone = segments(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
            assert (flat[start:start + len(ids)] - alone).abs().max().item() < 1e-4
    segments.set_attn_implementation("ftp_segments")


def test_labelled_positions_loss_and_gradients_equal_padded_full_logits(segments):
    from ftp.plugins.training.loss import response_loss

    examples = _examples(8, seed=5)
    flat = PackingCollator(0, flat=True)(examples)
    padded = PaddingCollator(0)(examples)
    losses, grads = [], []
    for batch, attention in ((flat, "ftp_segments"), (padded, "sdpa")):
        segments.set_attn_implementation(attention)
        batch = {k: v for k, v in batch.items() if k != "num_real_tokens"}
        segments.zero_grad()
        if attention == "sdpa":
            loss, outputs = segments(**batch, use_cache=False).loss, None
        else:
            loss, outputs = response_loss(segments, batch)
            labelled = sum(sum(1 for x in e["labels"][1:] if x != -100) for e in examples)
            assert outputs.logits.shape[1] == labelled  # the LM head ran on those rows only
        loss.backward()
        losses.append(loss.item())
        grads.append(segments.model.layers[0].self_attn.q_proj.weight.grad.clone())
    segments.set_attn_implementation("ftp_segments")
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
