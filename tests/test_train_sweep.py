"""`ftp sweep`: nested fractions x methods, evaluated, learning curve PNG, resumable."""

from __future__ import annotations

import json

from tests.test_train_support import import_records, make_records, write_config


def test_sweep_trains_evaluates_and_draws(project, tiny_model, invoke):
    write_config(project, str(tiny_model), max_steps=2)
    with project.config_path.open("a") as handle:
        handle.write("[eval]\nmax_new_tokens = 4\nlimit = 3\n")
    import_records(project, make_records(40))
    result = invoke("-q", "sweep", "--fractions", "0.5,1", "--methods", "lora,freeze",
                    "--json")
    assert result.exit_code == 0, result.output
    sweep = json.loads(result.stdout)
    assert sweep["status"] == "finished" and sweep["summary"]["points"] == 4
    png = project.root / sweep["summary"]["learning_curve"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    points = [r for r in project.store.list_runs(kind="train") if r.parent_id == sweep["id"]]
    assert len(points) == 4 and all(r.status == "finished" for r in points)
    sizes = {(r.config["method"], r.config["fraction"]): r.summary["train_examples"]
             for r in points}
    assert sizes[("lora", 0.5)] < sizes[("lora", 1.0)]
    for point in points:
        tasks = {row["task"] for row in project.store.eval_results(point.id)}
        assert "test_loss" in tasks

    # resuming a finished sweep's points trains nothing new
    project.store.update_run(sweep["id"], status="failed")
    again = invoke("-q", "sweep", "--resume", str(sweep["id"]), "--json")
    assert again.exit_code == 0, again.output
    assert len(project.store.list_runs(kind="train")) == 4


def test_sweep_bad_input(project, tiny_model, invoke):
    write_config(project, str(tiny_model))
    import_records(project, make_records(12))
    result = invoke("sweep", "--fractions", "0.5,2")
    assert result.exit_code == 2 and "fractions must be in (0, 1]" in result.output
    result = invoke("sweep", "--methods", "lora,bogus")
    assert result.exit_code == 2 and "unknown trainer 'bogus'" in result.output
    assert project.store.list_runs(kind="sweep") == []
