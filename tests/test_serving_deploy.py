"""The issue's "done when" on the tiny model: the quickstart project with [deploy] on; `ftp run`
fine-tunes, exports merged and GGUF, serves the merged model with transformers serve,
evaluates the endpoint on the test split and gates parity (100%) with the in-process run."""

from __future__ import annotations

import gguf

from ftp.plugins.loop.quickstart import QuickstartOptions, create
from ftp.project import Project


def test_ftp_run_ends_with_export_serve_endpoint_eval_and_parity(tmp_path, tiny_model, invoke,
                                                                 monkeypatch):
    folder = tmp_path / "shop"
    create(folder, QuickstartOptions(model=str(tiny_model), steps=2, limit=8, examples=120))
    with (folder / "ftp.toml").open("a") as config:
        config.write('\n[deploy]\nenabled = true\ngguf = "deploy/model.gguf"\nquant = "q8_0"\n')
    (folder / "gates.toml").write_text(  # a floor the 2-step tiny model meets
        '[[gate]]\ntask = "testset"\nmetric = "json_valid"\nmin = 0.0\n')
    monkeypatch.chdir(folder)
    result = invoke("run")
    assert result.exit_code == 0, result.output

    project = Project(folder)
    train = next(r for r in project.runs() if r.kind == "train")
    served = next(r for r in project.runs() if r.kind == "eval" and r.name == "served")
    assert served.model.startswith("http://127.0.0.1:") and served.parent_id == train.id
    decisions = list(project.store.db["gate_decisions"].rows_where("run_id = ?", [served.id]))
    assert [(d["gate"], d["passed"], d["value"]) for d in decisions] == [
        ("parity/testset", 1, 1.0)]
    tuned = next(r for r in project.runs() if r.kind == "eval" and r.name == "fine-tuned")
    assert len(project.store.samples(served.id, "testset")) == len(
        project.store.samples(tuned.id, "testset")) == 8
    reader = gguf.GGUFReader(str(folder / "deploy" / "model.gguf"))
    assert bytes(reader.fields["general.architecture"].parts[-1]).decode() == "llama"
    assert (folder / ".ftp" / "runs").is_dir() and list(folder.rglob("merged/config.json"))
    assert "parity/testset" in (folder / "report.md").read_text()

    again = invoke("run")  # nothing changed: the deploy stage is skipped, parity still gated
    assert again.exit_code == 0 and "deploy: skipped" in again.output
