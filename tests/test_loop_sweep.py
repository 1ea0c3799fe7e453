"""`ftp sweep`: nested fractions x methods, each point evaluated on the test split and on the
[eval] suite of ftp.toml (a real benchmark, through `ftp eval`'s path), learning curves per
metric in the PNG and in `ftp report`, resumable after an interruption."""

from __future__ import annotations

import json

import pytest
from conftest import BENCHDATA

from tests.test_train_support import import_records, make_records, write_config

needs_benchdata = pytest.mark.skipif(not BENCHDATA.is_dir(), reason="no shared benchmark data")
EVAL = '[eval]\nsuite = ["testset", "arc_challenge"]\nlimit = 3\nmax_new_tokens = 4\n' \
       'batch_size = 4\n'


@pytest.fixture
def sweep_project(project, tiny_model, invoke):
    write_config(project, str(tiny_model), max_steps=2)
    with project.config_path.open("a") as handle:
        handle.write(EVAL)
    import_records(project, make_records(40))
    result = invoke("bench", "import", "arc_challenge", str(BENCHDATA / "arc"))
    assert result.exit_code == 0, result.output
    return project


def _points(project, sweep_id: int):
    return [r for r in project.store.list_runs(kind="train") if r.parent_id == sweep_id]


def _evals(project, point_id: int):
    return [r for r in project.store.list_runs(kind="eval") if r.parent_id == point_id]


@needs_benchdata
def test_sweep_evaluates_benchmarks_and_draws(sweep_project, invoke, tmp_path):
    project = sweep_project
    result = invoke("-q", "sweep", "--fractions", "0.5,1", "--methods", "lora,freeze",
                    "--json")
    assert result.exit_code == 0, result.output
    sweep = json.loads(result.stdout)
    assert sweep["status"] == "finished" and sweep["summary"]["points"] == 4
    png = project.root / sweep["summary"]["learning_curve"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    points = _points(project, sweep["id"])
    assert len(points) == 4 and all(r.status == "finished" for r in points)
    sizes = {(r.config["method"], r.config["fraction"]): r.summary["train_examples"]
             for r in points}
    assert sizes[("lora", 0.5)] < sizes[("lora", 1.0)]
    curve = sweep["summary"]["curve"]
    for point in points:
        assert "test_loss" in {row["task"] for row in project.store.eval_results(point.id)}
        (evaluated,) = _evals(project, point.id)  # one eval run per point, as `ftp eval`
        stored = {(r["task"], r["metric"]): r for r in project.store.eval_results(evaluated.id)}
        acc = stored[("arc_challenge", "acc")]
        assert acc["n"] == 3 and 0 <= acc["value"] <= 1 and acc["stderr"] is not None
        assert any(task == "testset" for task, _ in stored)
        mine = {(r["task"], r["metric"]): r["value"] for r in curve if r["run_id"] == point.id}
        assert mine[("arc_challenge", "acc")] == acc["value"]
        assert ("test_loss", "loss") in mine
    assert {r["examples"] for r in curve} == set(sizes.values())
    assert sweep["summary"]["metric"].startswith("testset ")

    html, markdown = tmp_path / "report.html", tmp_path / "report.md"
    report = invoke("report", str(sweep["id"]), "--html", str(html), "--markdown",
                    str(markdown))
    assert report.exit_code == 0, report.output
    section = markdown.read_text().split("Learning curve (sweep)")[1].split("\n## ")[0]
    assert "tiny-llama / lora" in section and "arc_challenge" in section
    assert 'alt="Learning curve (sweep)" src="data:image/png;base64,' in html.read_text()

    # resuming a finished sweep trains and evaluates nothing new
    project.store.update_run(sweep["id"], status="failed")
    again = invoke("-q", "sweep", "--resume", str(sweep["id"]), "--json")
    assert again.exit_code == 0, again.output
    assert len(project.store.list_runs(kind="train")) == 4
    assert len(project.store.list_runs(kind="eval")) == 4
    assert json.loads(again.stdout)["summary"]["curve"] == curve


@needs_benchdata
def test_sweep_interrupted_during_evaluation_resumes(sweep_project, invoke, monkeypatch):
    from ftp.plugins.evaluation import runner

    project, real, calls = sweep_project, runner.evaluate, []

    def flaky(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C in the second evaluation
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "evaluate", flaky)
    stopped = invoke("-q", "sweep", "--fractions", "0.5,1", "--methods", "lora")
    assert stopped.exit_code == 130, stopped.output
    (sweep,) = project.store.list_runs(kind="sweep")
    assert sweep.status == "failed"
    first, second = sorted(_points(project, sweep.id), key=lambda r: r.id)
    assert first.status == second.status == "finished" and _evals(project, first.id)
    monkeypatch.setattr(runner, "evaluate", real)
    again = invoke("-q", "sweep", "--resume", str(sweep.id), "--json")
    assert again.exit_code == 0, again.output
    assert len(_points(project, sweep.id)) == 2  # nothing trained twice
    assert len(_evals(project, first.id)) == 1 and len(_evals(project, second.id)) == 1
    summary = json.loads(again.stdout)["summary"]
    assert {(r["run_id"], r["task"]) for r in summary["curve"]} >= {
        (first.id, "arc_challenge"), (second.id, "arc_challenge")}


def test_sweep_bad_input(project, tiny_model, invoke):
    write_config(project, str(tiny_model))
    import_records(project, make_records(12))
    result = invoke("sweep", "--fractions", "0.5,2")
    assert result.exit_code == 2 and "fractions must be in (0, 1]" in result.output
    result = invoke("sweep", "--methods", "lora,bogus")
    assert result.exit_code == 2 and "unknown trainer 'bogus'" in result.output
    config = project.config_path.read_text()
    for suite, message in (('"hellaswag"', "ftp bench import hellaswag PATH"),
                           ('"testset"', "the project has no test split to evaluate")):
        project.config_path.write_text(config + f"[eval]\nsuite = [{suite}]\n")
        project.__dict__.pop("config", None)
        result = invoke("sweep", "--fractions", "1")
        assert result.exit_code == 2 and message in result.output
    assert project.store.list_runs(kind="sweep") == []
    assert project.store.list_runs(kind="train") == []
