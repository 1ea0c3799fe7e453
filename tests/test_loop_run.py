"""`ftp quickstart` (shortened, tiny model) and `ftp run`: skip unchanged, resume, re-run."""

from __future__ import annotations

import json

import pytest
from conftest import BENCHDATA

from ftp.plugins.loop import quickstart as qs
from ftp.plugins.loop import tickets


def test_example_data_is_deterministic_and_carries_pii():
    first, again = list(tickets.generate(50, seed=3)), list(tickets.generate(50, seed=3))
    assert first == again and len({r["input"] for r in first}) == 50
    record = first[0]
    ticket = json.loads(record["output"])
    assert set(ticket) == set(tickets.FIELDS)
    assert "@" in record["input"] and ticket["product"] in record["input"]
    assert not any("@" in r["output"] for r in first), "tickets never repeat contact details"
    scores = tickets.field_scores('Sure: {"category": "billing"}', record["output"])
    assert scores["valid_json"] == 1.0 and 0 <= scores["field_accuracy"] <= 1


def test_quickstart_refuses_a_non_empty_folder(invoke, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = invoke("quickstart", str(tmp_path), "--model", "unused")
    assert result.exit_code == 2 and "is not empty" in result.output
    assert (tmp_path / "notes.txt").read_text() == "mine" and len(list(tmp_path.iterdir())) == 1


@pytest.mark.skipif(not (BENCHDATA / "arc").is_dir(), reason="benchmark data not found")
def test_shortened_quickstart_runs_the_whole_loop(invoke, tmp_path, tiny_model, monkeypatch):
    folder = tmp_path / "qs"
    result = invoke("quickstart", str(folder), "--model", str(tiny_model), "--quick",
                    "--steps", "2", "--bench-data", str(BENCHDATA / "arc"))
    assert result.exit_code == 0, result.output
    assert "testset/field_accuracy: " in result.output and "arc_easy/acc: " in result.output
    assert "gates: " in result.output
    page = (folder / "report.html").read_text()
    assert "Gate decisions" in page and "PHONE_NUMBER" in page and "data:image/png" in page
    assert (folder / "report.md").is_file()

    from ftp.project import Project

    project = Project(folder)
    store = project.store
    stored = " ".join(row["record"] for row in store.db["examples"].rows)
    assert "<PHONE_NUMBER>" in stored and "@example." not in stored
    kinds = sorted(run.kind for run in project.runs())
    assert kinds == ["eval", "eval", "import", "train"]

    monkeypatch.chdir(folder)
    again = invoke("run")  # nothing changed: every stage is skipped, gates decided again
    for stage in ("data", "train", "eval-base", "eval"):
        assert f"{stage}: skipped" in again.output
    assert len(project.runs()) == 4
    assert again.exit_code in (0, 1)  # 1: the 2-step tiny model fails the accuracy floor


def _patterns_only(folder) -> None:
    config = folder / "ftp.toml"
    config.write_text(config.read_text().replace('tier = "ner"', 'tier = "patterns"'))


def test_run_resumes_an_interrupted_training_and_reruns_what_changed(tmp_path, tiny_model,
                                                                     monkeypatch):
    from ftp.plugins.loop.pipeline import run_pipeline
    from ftp.plugins.training import run as training
    from ftp.project import Project

    folder = tmp_path / "p"
    qs.create(folder, qs.QuickstartOptions(model=str(tiny_model), steps=2, limit=4,
                                           examples=60))
    _patterns_only(folder)
    real = training._execute
    monkeypatch.setattr(training, "_execute", lambda *a: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(Project(folder), ["data", "train"])
    project = Project(folder)
    failed = project.runs(kind="train")[0]
    assert failed.status == "failed"

    monkeypatch.setattr(training, "_execute", real)
    outcome = run_pipeline(project, ["data", "train"])
    assert outcome.stages == {"data": "skipped", "train": "resumed"}
    assert outcome.train_run == failed.id
    assert project.store.get_run(failed.id).status == "finished"

    assert run_pipeline(Project(folder), ["data", "train"]).stages["train"] == "skipped"
    config = folder / "ftp.toml"
    config.write_text(config.read_text().replace("learning_rate = 1e-3", "learning_rate = 5e-4"))
    changed = run_pipeline(Project(folder), ["data", "train"])
    assert changed.stages == {"data": "skipped", "train": "ran"}
    assert changed.train_run != failed.id


def test_run_rejects_unknown_stages_and_missing_sources(project, invoke):
    result = invoke("run")
    assert result.exit_code == 2 and "one dataset" in result.output
