"""FSDP (`ftp train --fsdp`, train.distributed = "fsdp") in two processes on CPU (gloo), launched
with torchrun: the model is sharded (FSDP2), the ranks agree, the loss equals a one-process run
on the same examples, only rank 0 writes to the store, and the final model it wrote (gathered
from the shards) holds the trained weights."""

from __future__ import annotations

import json

import pytest

from tests.test_train_ddp import launch
from tests.test_train_support import import_records, make_records, write_config


def _losses(store, run_id: int) -> list[float]:
    return [m["value"] for m in store.metrics(run_id, "loss") if m["split"] == "train"]


def _saved_weights(project, run_id: int, method: str) -> float:
    """The sum of the run's final model's parameters (lora: the adapter's), loaded afresh."""
    from ftp.plugins.models import load_model

    model, _ = load_model(str(run_id), project)
    return sum(float(p.double().sum()) for name, p in model.named_parameters()
               if method != "lora" or "lora_" in name)


@pytest.mark.parametrize("method", ["lora", "freeze", "full"])
def test_two_process_fsdp_matches_one_process(project, tiny_model, tmp_path, invoke, method):
    write_config(project, str(tiny_model), method=method, max_steps=3, batch_size=2,
                 lora_dropout=0.0, save_steps=2)
    import_records(project, make_records(24))
    ranks = launch("torchrun", project, tmp_path, "--fsdp", "--name", "fsdp")
    assert ranks[0]["sharded"] and ranks[1]["sharded"]  # DTensor shards, not DDP copies
    assert ranks[0]["world"] == ranks[1]["world"] == 2
    assert ranks[0]["steps"] == ranks[1]["steps"] == 3
    assert ranks[0]["weights"] == pytest.approx(ranks[1]["weights"], rel=1e-9, abs=1e-9)

    from ftp.project import Project

    store = Project(project.root).store
    (run,) = store.list_runs(kind="train")  # rank 1 recorded nothing
    assert run.status == "finished" and run.config["distributed"] == "fsdp"
    assert [m["step"] for m in store.metrics(run.id, "loss") if m["split"] == "train"] == [1, 2, 3]
    trained = ranks[0]["weights" if method == "lora" else "all"]
    assert _saved_weights(project, run.id, method) == pytest.approx(trained, rel=1e-6)
    # one process, batch 4: each step sees the same 4 examples as the two ranks' 2 + 2
    single = invoke("-q", "train", "--json", "--batch-size", "4", "--name", "single")
    assert single.exit_code == 0, single.output
    expected = _losses(store, json.loads(single.stdout)["id"])
    assert _losses(store, run.id) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("args,message", [
    (("--fsdp",), "FSDP shards the model across processes, and this is one process"),
    (("--fsdp", "--method", "qlora"), "FSDP is wired for the lora, freeze, full methods"),
])
def test_fsdp_bad_setups_exit_2(project, tiny_model, invoke, args, message):
    write_config(project, str(tiny_model))
    import_records(project, make_records(12))
    result = invoke("train", *args)
    assert result.exit_code == 2 and message in result.output
    assert project.store.list_runs(kind="train") == []
