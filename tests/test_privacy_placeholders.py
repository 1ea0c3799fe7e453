"""The leakage audit's placeholder check: after training on scrubbed data, the tiny model
prefers `<EMAIL_ADDRESS>` to realistic values where the training text had one, the original
values (from the raw file, in memory only) do not beat the placeholder, and no original value
reaches the store or the output."""

from __future__ import annotations

import json
import random

import pytest
from privacy_helpers import memorise_texts

from ftp.plugins.audit.placeholders import RawIndex, Site, record_sites, site_figures, summarise


def test_raw_index_recovers_the_values_behind_placeholders():
    index = RawIndex([{"instruction": "Mail ana@x.org or bo@y.com now", "output": "ok"},
                      {"messages": [{"role": "user", "content": "call +1 555 0100, ana"}]}])
    assert index.originals("Mail <EMAIL_ADDRESS> or <EMAIL_ADDRESS> now") == ["ana@x.org",
                                                                              "bo@y.com"]
    assert index.originals("call <PHONE_NUMBER>, ana") == ["+1 555 0100"]
    assert index.originals("Mail <EMAIL_ADDRESS> later") is None


def test_sites_in_responses_only_carry_context_and_original():
    record = {"instruction": "Write to <PERSON>.", "output": "Sent to <EMAIL_ADDRESS>."}
    prompt, response = "U: Write to <PERSON>.\nA: ", "Sent to <EMAIL_ADDRESS>."
    raw = RawIndex([{"instruction": "Write to Ana.", "output": "Sent to a@b.co."}])
    sites = record_sites(record, prompt, response, responses_only=True, raw=raw)
    assert sites == [Site(prompt + "Sent to ", "EMAIL_ADDRESS", "a@b.co")]
    both = record_sites(record, prompt, response, responses_only=False)
    assert [s.entity for s in both] == ["PERSON", "EMAIL_ADDRESS"]


def test_figures_and_summary():
    trained = {"entity": "E", "placeholder": -2.0, "surrogates": [-5.0, -3.0], "original": -4.0}
    base = {"entity": "E", "placeholder": -6.0, "surrogates": [-5.0, -3.0], "original": -4.0}
    figures = site_figures(trained, base)
    assert figures["preferred"] and figures["margin"] == 2.0 and figures["base_margin"] == -2.0
    assert not figures["original_over_placeholder"]
    assert figures["original_exposure_bits"] == pytest.approx(1.585 - 1, abs=1e-3)  # rank 2/3
    summary = summarise([figures, {**figures, "entity": "F", "preferred": False}])
    assert summary["all"]["placeholder_rate"] == 0.5 and summary["all"]["learnt_margin"] == 4.0
    assert summary["E"]["sites"] == 1 and summary["all"]["with_original"] == 2


@pytest.fixture
def one_thread():
    """A tiny model: on a shared 2-core machine a second thread only contends (8x slower)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _raw_records(n: int = 24) -> list[dict[str, str]]:
    from faker import Faker

    fake, rng = Faker("en_US"), random.Random(3)
    fake.seed_instance(3)
    topics = ("refund", "invoice", "password reset", "delivery", "upgrade", "cancellation")
    return [{"instruction": f"Who handles the {rng.choice(topics)} request number {i}?",
             "input": "", "output": f"Forward it to {fake.email()} today."} for i in range(n)]


def _memorise(project, model_path, folder, steps: int = 60) -> None:
    """Plain torch steps on the stored (scrubbed) training texts, as `ftp train` would."""
    from ftp.plugins.audit.leakage import load_model
    from ftp.plugins.data.api import load_records
    from ftp.plugins.data.formatters import chat_template

    model, tokenizer = load_model(model_path)
    texts = ["".join(chat_template(r, tokenizer)) for r in load_records(project)]
    memorise_texts(model, tokenizer, texts, steps)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def test_audit_finds_placeholders_learnt_and_originals_not(project, invoke, tiny_model,
                                                           one_thread):
    raw = project.root / "raw.jsonl"
    records = _raw_records()
    raw.write_text("".join(json.dumps(r) + "\n" for r in records))
    imported = invoke("data", "import", str(raw), "--json")
    assert imported.exit_code == 0, imported.output
    dataset_id = json.loads(imported.stdout[imported.stdout.index("{"):])["id"]
    with project.run("train", model=str(tiny_model), dataset_id=dataset_id) as run:
        _memorise(project, tiny_model, f"{run.artifacts_path}/final")
    args = ("audit", "leakage", str(run.id), "--placeholder-sites", "12", "--surrogates", "8")

    untrained = invoke(*args, "--model", str(tiny_model), "--json")
    assert untrained.exit_code == 0, untrained.output
    before = json.loads(untrained.stdout[untrained.stdout.index("{"):])["placeholders"]
    assert before["summary"]["all"]["learnt_margin"] == 0  # its own base

    result = invoke(*args, "--raw", str(raw))
    assert result.exit_code == 0, result.output
    assert "EMAIL_ADDRESS" in result.output and "placeholders: preferred" in result.output
    audit_id = max(r["id"] for r in project.store.db["runs"].rows_where("kind = 'audit'"))
    stored = {r["metric"]: r for r in project.store.eval_results(audit_id)
              if r["task"] == "leakage_placeholders"}
    assert stored["placeholder_rate"]["n"] == 12
    assert stored["placeholder_rate"]["value"] >= 0.9
    gained = stored["placeholder_margin"]["value"] - before["summary"]["all"]["placeholder_margin"]
    assert gained == pytest.approx(stored["learnt_margin"]["value"], abs=1e-3)
    assert stored["learnt_margin"]["value"] > 5  # nats gained by the placeholder in training
    assert stored["original_over_placeholder_rate"]["value"] == 0
    assert stored["original_over_placeholder_rate"]["n"] == 12  # every original was matched
    assert "placeholder_rate.EMAIL_ADDRESS" in stored
    assert len(project.store.samples(audit_id, "leakage_placeholders")) == 12
    assert project.store.metrics(audit_id, "leakage.placeholder_rate")[0]["split"] == "audit"
    stored_bytes = b"".join(p.read_bytes() for p in (project.root / ".ftp").rglob("*")
                            if p.is_file() and p.stat().st_size < 5_000_000)
    everything = stored_bytes.decode("latin-1") + result.output
    emails = [r["output"].split()[3] for r in records]
    assert not [e for e in emails if e in everything]  # no original value anywhere


def test_audit_without_canaries_or_placeholders_is_a_clear_error(project, invoke, tiny_model):
    raw = project.root / "plain.jsonl"
    raw.write_text(json.dumps({"instruction": "Say hi.", "output": "hi"}) + "\n")
    assert invoke("data", "import", str(raw)).exit_code == 0
    with project.run("train", model=str(tiny_model), dataset_id=1) as run:
        pass
    result = invoke("audit", "leakage", str(run.id), "--model", str(tiny_model))
    assert result.exit_code == 2 and "no canaries recorded" in result.output
