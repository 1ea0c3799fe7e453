"""The guide's example plugin (tests/plugins/ftp-acme), installed by pip and loaded through
its entry point, exercised hook by hook. Each test is named ``test_acme_<hook>`` so that
test_core_hookspecs can check every hook is exercised here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftp.plugin_manager import list_plugins

HOOKS_OF_ACME = {
    "register_commands", "register_data_sources", "register_record_formats",
    "register_formatters", "register_generators", "register_trainers", "register_evaluators",
    "register_error_categorizers", "register_model_providers", "register_pii_detectors",
    "register_settings", "register_migrations", "ftp_run_started", "ftp_run_finished",
    "ftp_gate_decided",
}
FTP_TOML = """
[privacy]
tier = "patterns"  # the patterns tier is enough for customer ids, and fast
[data]
test_fraction = 0.25
validation_fraction = 0.0
[eval]
max_new_tokens = 4
[acme]
competitor = "Globex"
lora_r = 4
"""


def _tickets(root: Path, n: int = 24) -> Path:
    path = root / "tickets.acme"
    path.write_text("".join(f"Order {i} for ACME-{100000 + i} is late ::: Sorry, it ships "
                            f"on day {i}.\n" for i in range(n)))
    return path


@pytest.fixture
def acme_project(project):
    project.config_path.write_text(FTP_TOML)  # every other key at its default
    project.__dict__.pop("config", None)
    return project


def _events(project) -> list[dict]:
    from ftp_acme import read_events

    return read_events(project)


def test_acme_is_loaded_through_its_entry_point():
    found = {p.name: p for p in list_plugins()}
    assert "acme" in found, "install it: pip install -e tests/plugins/ftp-acme"
    assert found["acme"].distribution == "ftp-acme" and found["acme"].version == "0.1.0"
    assert set(found["acme"].hooks) == HOOKS_OF_ACME


def test_acme_register_settings(acme_project, invoke, tmp_path):
    from ftp.config import validate
    from ftp.errors import ConfigError

    assert acme_project.config["acme"] == {"competitor": "Globex", "lora_r": 4,
                                           "polite_floor": 0.0}
    assert invoke("init", str(tmp_path / "fresh")).exit_code == 0
    template = (tmp_path / "fresh" / "ftp.toml").read_text()
    assert "[acme]\n# Settings of the ftp-acme plugin.\n" in template
    with pytest.raises(ConfigError, match="acme.lora_r must be between 1 and 256, got 0"):
        validate({"acme": {"lora_r": 0}})
    with pytest.raises(ConfigError, match="acme.polite_floor needs acme.competitor"):
        validate({"acme": {"competitor": "", "polite_floor": 0.5}})


def _import(project, invoke) -> dict:
    result = invoke("data", "import", str(_tickets(project.root)), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_acme_register_data_sources(acme_project, invoke):
    """`ftp data import tickets.acme` picks the plugin's reader by its suffix."""
    dataset = _import(acme_project, invoke)
    assert dataset["counts"]["read"] == 24 and dataset["counts"]["total"] == 24
    assert acme_project.store.get_run("latest").config["source"].endswith("tickets.acme")


def test_acme_register_record_formats(acme_project, invoke):
    from ftp.registry import get

    assert _import(acme_project, invoke)["format"] == "acme_ticket"
    ticket = get("record_formats", "acme_ticket")
    with pytest.raises(ValueError, match="field 'reply' must be non-empty text") as error:
        ticket.validate({"ticket": "Call ACME-123456", "reply": " "})
    assert "ACME-123456" not in str(error.value)  # a reason, never the record


def test_acme_register_pii_detectors(acme_project, invoke):
    dataset = _import(acme_project, invoke)
    assert dataset["scrub_report"]["entities"]["ACME_CUSTOMER_ID"] == 24
    stored = acme_project.store.db.execute("select record from examples").fetchall()
    assert stored and all("ACME-1" not in row[0] for row in stored)


def test_acme_ftp_run_started_and_ftp_run_finished(acme_project, invoke):
    _import(acme_project, invoke)
    run = acme_project.store.get_run("latest")
    assert [(e["event"], e.get("status")) for e in _events(acme_project)
            if e["run"] == run.id] == [("started", None), ("finished", "finished")]


def test_acme_register_formatters(tiny_model):
    from transformers import AutoTokenizer

    from ftp.registry import get

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    record = {"format": "acme_ticket", "ticket": "Where is it?", "reply": "On its way."}
    assert get("formatters", "acme_plain")(record, tokenizer) == (
        "Ticket: Where is it?\nReply:", " On its way.")


def test_acme_register_generators(acme_project, invoke):
    from ftp.plugins.data.catalog import resolve_dataset

    result = invoke("data", "generate", "acme_faq", "--n", "6")
    assert result.exit_code == 0, result.output
    dataset = resolve_dataset(acme_project, "acme_faq")
    assert dataset["counts"]["total"] == 6 and dataset["format"] == "acme_ticket"


def test_acme_register_trainers(acme_project, invoke, tiny_model):
    assert invoke("data", "import", str(_tickets(acme_project.root))).exit_code == 0
    result = invoke("train", "--method", "acme-lora", "--model", str(tiny_model),
                    "--max-steps", "2", "--batch-size", "4")
    assert result.exit_code == 0, result.output
    run = acme_project.store.get_run("latest")
    assert run.status == "finished" and run.config["method"] == "acme-lora"
    assert (run.config["lora_r"], run.config["lora_alpha"]) == (4, 8)  # what it ran
    adapter = json.loads((Path(run.artifacts_path) / "final" / "adapter_config.json")
                         .read_text())
    assert adapter["r"] == 4


def test_acme_register_evaluators_and_ftp_gate_decided(acme_project, invoke, tiny_model,
                                                       monkeypatch):
    assert invoke("data", "import", str(_tickets(acme_project.root))).exit_code == 0
    gates = acme_project.root / "gates.toml"
    gates.write_text('[[gate]]\nname = "polite"\ntask = "acme_polite"\nmetric = "polite"\n'
                     "min = 0\n")
    args = ("eval", str(tiny_model), "--suite", "acme_polite", "--gates", str(gates), "--json")
    first = json.loads(invoke(*args).stdout)
    assert first["passed"] and first["cached"] == []
    (row,) = first["results"]
    samples = acme_project.store.samples(first["run"], "acme_polite")
    assert (row["task"], row["metric"], row["n"]) == ("acme_polite", "polite", len(samples))
    assert len(samples) > 0 and all("polite" in json.loads(s["scores"]) for s in samples)
    assert json.loads(invoke(*args).stdout)["cached"] == ["acme_polite"]  # unchanged: reused
    from ftp.registry import get

    monkeypatch.setattr(type(get("evaluators", "acme_polite")), "version", "2")
    assert json.loads(invoke(*args).stdout)["cached"] == []  # a new version: evaluated again
    gate_events = [e for e in _events(acme_project) if e["event"] == "gate"]
    assert [(e["gate"], e["passed"]) for e in gate_events] == [("polite", 1)] * 3


def test_acme_register_error_categorizers():
    from ftp.plugins.evaluation.categorize import categorize_samples

    samples = [{"output": "Honestly, Globex does this better.", "reference": "r"},
               {"output": "Happy to help.", "reference": "r"}]
    categorize_samples(samples)
    assert "competitor" in samples[0]["categories"]
    assert "competitor" not in samples[1]["categories"]


def test_acme_register_model_providers(tiny_model, monkeypatch):
    from ftp.plugins.models import resolve_model

    monkeypatch.setenv("ACME_MODELS", str(tiny_model.parent))
    assert resolve_model(f"acme/{tiny_model.name}") == tiny_model


def test_acme_register_migrations(acme_project, tmp_path):
    """The plugin's own table, created by its own migrations when a store opens; an
    existing store gets it on its next open, and reopening applies nothing twice."""
    from ftp.store import Store

    db = acme_project.store.db
    assert "acme_events" in db.table_names()
    applied = [r["name"] for r in db["_sqlite_migrations"].rows_where("migration_set = ?",
                                                                       ["ftp-acme"])]
    assert applied == ["m001_events"]
    old = tmp_path / "old" / ".ftp" / "ftp.db"
    old.parent.mkdir(parents=True)
    store = Store(old)
    store.db["acme_events"].drop()
    store.db.execute("delete from _sqlite_migrations where migration_set = 'ftp-acme'")
    store.db.conn.commit()
    store.close()
    assert "acme_events" in Store(old).db.table_names()
    assert "acme_events" in Store(old).db.table_names()  # applied once, reopened fine


def test_acme_register_commands(acme_project, invoke):
    assert invoke("data", "import", str(_tickets(acme_project.root))).exit_code == 0
    result = invoke("acme", "events", "--kind", "import")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"event=started kind=import pid={acme_project.store.get_run(1).pid} run=1",
        "event=finished kind=import run=1 status=finished"]
