"""`ftp train` end to end on the tiny model: methods, metrics, seeds, bad input, NaN, dry run."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from ftp.plugins.data.api import load_records
from tests.test_train_support import import_records, make_records, write_config


@pytest.fixture
def trainable(project, tiny_model):
    """A project on the tiny model with 32 imported instruction records."""
    write_config(project, str(tiny_model))
    import_records(project, make_records(32))
    return project


def _train(invoke, *args):
    result = invoke("-q", "train", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_lora_run_stores_metrics_and_adapter(trainable, invoke):
    run = _train(invoke, "--name", "first")
    assert run["status"] == "finished" and run["kind"] == "train"
    summary = run["summary"]
    assert summary["steps"] == 4 and summary["real_tokens"] > 0
    assert (summary["final_model"].endswith("final"))
    metrics = trainable.store.metrics(run["id"])
    names = {(m["split"], m["name"]) for m in metrics}
    assert {("train", "loss"), ("train", "tokens_per_s"), ("train", "learning_rate"),
            ("validation", "loss")} <= names
    assert len([m for m in metrics if m["name"] == "loss" and m["split"] == "train"]) == 4


def test_trained_run_loads_as_a_model(trainable, invoke, tiny_model):
    from ftp.plugins.models import load_model

    run = _train(invoke, "--name", "adapted")
    model, tokenizer = load_model("adapted", trainable)
    base, _ = load_model(str(tiny_model))
    ids = tokenizer("the quick brown fox", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert not torch.allclose(model(ids).logits, base(ids).logits)
    assert load_model(str(run["id"]), trainable)[0].peft_config


def test_same_seed_repeats_exactly(trainable, invoke):
    first, second = _train(invoke), _train(invoke)
    assert first["summary"]["final_loss"] == second["summary"]["final_loss"]
    a = load_file(first["summary"]["final_model"] + "/adapter_model.safetensors")
    b = load_file(second["summary"]["final_model"] + "/adapter_model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    third = _train(invoke, "--seed", "7")
    assert third["summary"]["final_loss"] != first["summary"]["final_loss"]


@pytest.mark.parametrize("method", ["freeze", "full"])
def test_weight_methods_write_a_full_model(trainable, invoke, method):
    run = _train(invoke, "--method", method, "--freeze-trainable-layers", "1")
    final = run["summary"]["final_model"]
    assert json.load(open(final + "/config.json"))["model_type"] == "llama"
    from ftp.plugins.models import load_model

    model, _ = load_model(str(run["id"]), trainable)
    total = sum(p.numel() for p in model.parameters())
    trained = run["summary"]["trainable_parameters"]
    assert (trained < total / 2) if method == "freeze" else trained == total


def test_unpacked_training_matches_packed_loss(trainable, invoke):
    packed = _train(invoke, "--max-steps", "1")
    padded = _train(invoke, "--max-steps", "1", "--no-packing")
    assert packed["summary"]["final_loss"] == pytest.approx(padded["summary"]["final_loss"],
                                                            abs=1e-4)


def test_dpo_on_preference_data(project, tiny_model, invoke):
    write_config(project, str(tiny_model))
    import_records(project, make_records(12, kind="preference"))
    run = _train(invoke, "--method", "dpo", "--max-steps", "2")
    assert (project.root / run["summary"]["final_model"] / "adapter_config.json").is_file()
    assert "reward_accuracy" in run["summary"]


def _refused(project, invoke, *args, match: str, code: int = 2):
    before = len(project.runs())
    result = invoke("train", *args)
    assert result.exit_code == code, result.output
    assert match in result.output
    assert "Traceback" not in result.output
    return before


def test_dpo_on_instruction_data_is_refused(trainable, invoke):
    before = _refused(trainable, invoke, "--method", "dpo", match="needs preference data")
    assert len(trainable.runs()) == before


def test_supervised_on_preference_data_is_refused(project, tiny_model, invoke):
    write_config(project, str(tiny_model))
    import_records(project, make_records(8, kind="preference"))
    before = _refused(project, invoke, match="--method dpo")
    assert len(project.runs()) == before


@pytest.mark.parametrize("args, match", [
    (("--model", "/no/such/model"), "/no/such/model"),
    (("--method", "sgd-magic"), "unknown trainer 'sgd-magic'"),
    (("--method", "qlora"), "qlora needs a CUDA GPU"),
    (("--resume", "1", "--model", "x"), "cannot be combined with --model"),
    (("--fraction", "1.5"), "--fraction must be in (0, 1]"),
    (("--batch-size", "0"), "batch_size must be positive"),
    (("--resume", "99"), "no run '99'"),
])
def test_bad_input_exits_2_with_nothing_stored(trainable, invoke, args, match):
    if torch.cuda.is_available() and "qlora" in args:
        pytest.skip("this machine has CUDA")
    before = _refused(trainable, invoke, *args, match=match)
    assert len(trainable.runs()) == before


def test_folder_that_is_not_a_model(trainable, invoke, tmp_path):
    (tmp_path / "empty").mkdir()
    before = _refused(trainable, invoke, "--model", str(tmp_path / "empty"),
                      match="not a Hugging Face")
    assert len(trainable.runs()) == before


def test_no_dataset(project, tiny_model, invoke):
    write_config(project, str(tiny_model))
    _refused(project, invoke, match="no datasets in this project")
    assert project.runs() == []


def test_fraction_with_no_examples(trainable, invoke):
    runs_before = len(trainable.runs())
    _refused(trainable, invoke, "--fraction", "0.0001", match="has no training examples")
    assert len(trainable.runs()) == runs_before


def test_every_example_truncated_away(trainable, invoke):
    with trainable.config_path.open("a") as handle:
        handle.write("[format]\nmax_length = 4\n")
    runs_before = len(trainable.runs())
    _refused(trainable, invoke, match="every example was dropped")
    assert len(trainable.runs()) == runs_before


def test_nan_loss_stops_and_keeps_last_good_checkpoint(trainable, invoke):
    result = invoke("train", "--method", "full", "--lr", "1e38", "--max-steps", "8")
    assert result.exit_code == 1, result.output
    assert "NaN" in result.output and "Traceback" not in result.output
    run = trainable.runs(kind="train")[0]
    assert run.status == "failed" and "NaN" in run.error
    kept = list((trainable.root / run.artifacts_path / "checkpoints").glob("checkpoint-*"))
    for folder in kept:
        weights = load_file(str(folder / "model.safetensors"))
        assert all(torch.isfinite(t).all() for t in weights.values())


def test_dry_run_estimates_and_stores_nothing(trainable, invoke):
    result = invoke("-q", "train", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    estimate = json.loads(result.stdout)
    train_size = len(load_records(trainable, None, "train"))
    assert estimate["steps_per_epoch"] == -(-train_size // 4) and estimate["expected_seconds_per_epoch"] > 0
    assert estimate["peak_memory_mb"] > 0
    assert trainable.runs(kind="train") == []
