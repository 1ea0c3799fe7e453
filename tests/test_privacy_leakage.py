"""Canaries in the store, and the leakage audit on the tiny model before and after it has
memorised them (a few plain torch steps on the canary text)."""

from __future__ import annotations

import json
import shutil

import pytest
from privacy_helpers import memorise_texts

from ftp.plugins.audit.leakage import audit_model, canary_context, exposure, load_model
from ftp.privacy.canaries import canary_records, make_canaries, stored_canaries


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """A tiny model: on a shared 2-core machine a second thread only contends (8x slower)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _dataset(project) -> int:
    with project.store.transaction() as db:
        # a finished dataset (one without a content hash is a pending import, removed on open)
        return db["datasets"].insert({"name": "d", "version": 1, "content_hash": "h"}).last_pk


def test_canary_records_are_alpaca_and_stored(project):
    dataset_id = _dataset(project)
    records = canary_records(project, dataset_id, n=4, seed=11)
    assert len(records) == 4 and all(set(r) == {"instruction", "input", "output"} for r in records)
    stored = stored_canaries(project, dataset_id)
    assert [s["record"] for s in stored] == records
    for row, record in zip(stored, records, strict=True):
        assert record["output"] == f"{row['prefix']}{row['secret']}."
        assert len(row["secret"].replace(" ", "")) == 9
    assert canary_records(project, dataset_id, n=4, seed=11) == records  # seeded
    assert make_canaries(4, seed=12) != make_canaries(4, seed=11)


def test_exposure_is_rank_based_in_bits():
    assert exposure(10.0, [1.0, 2.0, 3.0])["exposure_bits"] == 2.0  # rank 1 of 4
    assert exposure(0.0, [1.0, 2.0, 3.0])["exposure_bits"] == 0.0  # last of 4


def _memorise(model, tokenizer, canaries, steps: int = 80) -> None:
    texts = [canary_context(tokenizer, c) + c["secret"] + "." for c in canaries]
    memorise_texts(model, tokenizer, texts, steps)
    model.eval()


@pytest.fixture(scope="module")
def trained(tiny_model, tmp_path_factory):
    """The tiny model after memorising three canaries, saved as a run's final model."""
    model, tokenizer = load_model(tiny_model)
    canaries = make_canaries(3, seed=5)
    before = audit_model(model, tokenizer, canaries, candidates=200)
    _memorise(model, tokenizer, canaries)
    folder = tmp_path_factory.mktemp("trained") / "final"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return {"path": folder, "before": before, "canaries": canaries}


def test_untrained_model_does_not_expose_canaries(trained):
    before = trained["before"]
    assert before["extracted"] == 0
    assert before["mean_exposure"] < before["max_possible"] - 1


def test_memorised_canaries_are_exposed_and_extracted(trained):
    model, tokenizer = load_model(trained["path"])
    after = audit_model(model, tokenizer, trained["canaries"], candidates=200)
    assert after["extracted"] == 3
    assert after["max_exposure"] == pytest.approx(after["max_possible"], abs=1e-3)
    assert after["mean_exposure"] > trained["before"]["mean_exposure"]
    assert all(row["exposure_fit_bits"] > 10 for row in after["canaries"])


def test_audit_leakage_command_stores_max_exposure(project, invoke, trained):
    dataset_id = _dataset(project)
    canary_records(project, dataset_id, n=3, seed=5)  # the same canaries as memorised
    with project.run("train", dataset_id=dataset_id) as run:
        shutil.copytree(trained["path"], f"{run.artifacts_path}/final")
    result = invoke("audit", "leakage", str(run.id), "--candidates", "200", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output[result.output.index("{"):])
    assert shown["extracted"] == 3
    audit = project.store.get_run(shown["audit_run_id"])
    assert audit.kind == "audit" and audit.parent_id == run.id and audit.status == "finished"
    results = {r["metric"]: r["value"] for r in project.store.eval_results(audit.id)
               if r["task"] == "leakage"}
    assert results["max_exposure"] == pytest.approx(shown["max_exposure"])
    assert results["extraction_rate"] == 1.0
    assert project.store.metrics(audit.id, "leakage.max_exposure")[0]["split"] == "audit"
    assert len(project.store.samples(audit.id, "leakage")) == 3


def test_audit_without_canaries_or_model_is_a_clear_error(project, invoke):
    with project.run("train") as run:
        pass
    result = invoke("audit", "leakage", str(run.id))
    assert result.exit_code == 2 and "no canaries recorded" in result.output
    canary_records(project, _dataset(project), n=1, seed=0)
    result = invoke("audit", "leakage", str(run.id))
    assert result.exit_code == 2 and "has no final model" in result.output
