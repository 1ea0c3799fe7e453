"""`ftp report`: HTML (self-contained) and markdown from a store filled like a real loop."""

from __future__ import annotations

import base64
import json
import re


def fill(project) -> dict[str, int]:
    """A dataset, a train run with a loss curve, base and tuned eval runs with results,
    categorised samples, ratings, a leakage audit and gate decisions."""
    store = project.store
    dataset = store.db["datasets"].insert({
        "name": "tickets", "version": 1, "content_hash": "abc", "source": "data/t.jsonl",
        "format": "alpaca", "counts": json.dumps({"train": 240, "test": 45, "total": 300}),
        "scrub_report": json.dumps({"tier": "ner", "records": 300, "dropped": 0, "entities": {
            "PERSON": 676, "EMAIL_ADDRESS": 300, "PHONE_NUMBER": 300}})}).last_pk
    with project.run("eval", name="base", model="smollm2-135m-instruct") as base:
        store.add_eval_results(base.id, [
            {"task": "testset", "metric": "field_accuracy", "value": 0.21, "stderr": 0.03, "n": 45},
            {"task": "arc_easy", "metric": "acc", "value": 0.58, "stderr": 0.07, "n": 50}])
        store.add_samples(base.id, [
            {"task": "testset", "doc_id": str(i), "prompt": "email", "output": "Sure! Here",
             "categories": {"invalid_json": "no JSON"} if i < 30 else {}} for i in range(45)])
    with project.run("train", name="lora", model="smollm2-135m-instruct",
                     dataset_id=dataset) as train:
        for step in range(1, 31):
            store.log_metrics(train.id, step, {"loss": 2.5 / step ** 0.5})
        store.log_metrics(train.id, 30, {"loss": 0.61}, split="validation")
    with project.run("eval", name="tuned", model=str(train.id), parent_id=train.id) as tuned:
        store.add_eval_results(tuned.id, [
            {"task": "testset", "metric": "field_accuracy", "value": 0.87, "stderr": 0.02, "n": 45},
            {"task": "arc_easy", "metric": "acc", "value": 0.56, "stderr": 0.07, "n": 50}])
        ids = store.add_samples(tuned.id, [
            {"task": "testset", "doc_id": str(i), "prompt": "email", "output": '{"a": 1}',
             "categories": {"wrong_priority": "high vs urgent"} if i < 4 else {}}
            for i in range(45)])
        store.add_gate_decisions(tuned.id, [
            {"gate": "testset field_accuracy >= 0.6", "task": "testset",
             "metric": "field_accuracy", "passed": 1, "value": 0.87, "reason": "above floor"},
            {"gate": "arc_easy acc", "task": "arc_easy", "metric": "acc", "passed": 0,
             "value": 0.56, "baseline_value": 0.58, "p_value": 0.5, "reason": "dropped | 0.02"}])
    store.add_rating({"sample_id": ids[0], "run_id": tuned.id, "reviewer": "a", "passed": 1})
    with project.run("audit", parent_id=train.id, dataset_id=dataset) as audit:
        store.add_eval_results(audit.id, [
            {"task": "leakage", "metric": "max_exposure", "value": 3.2, "n": 8}])
    return {"base": base.id, "train": train.id, "tuned": tuned.id, "audit": audit.id}


def test_html_report_is_self_contained_with_every_section(project, invoke, tmp_path):
    runs = fill(project)
    out, md = tmp_path / "report.html", tmp_path / "report.md"
    result = invoke("report", str(runs["train"]), "--compare", "base", "--html", str(out),
                    "--markdown", str(md))
    assert result.exit_code == 0, result.output
    page = out.read_text()
    for title in ("Loss curves", "Benchmark and test-set scores", "Error categories",
                  "Scrub report", "Leakage audit", "Gate decisions", "Human review"):
        assert title in page
    assert not re.search(r'(src|href)="(https?:)?//', page), "no external assets"
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= 3  # loss, scores, error categories
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    assert "0.8700 ± 0.0200" in page and "+0.6600" in page  # tuned vs base field accuracy
    assert "PHONE_NUMBER" in page and "max_exposure" in page
    assert "1/2 gates passed; FAILED: arc_easy acc" in page
    assert "field_accuracy &gt;= 0.6" in page  # text is escaped
    markdown = md.read_text()
    assert markdown.startswith("# ftp report: run #")
    assert "| wrong_priority |" in markdown and "dropped \\| 0.02" in markdown
    assert "invalid_json" in markdown and "-30" in markdown  # change between the runs


def test_markdown_to_stdout_and_unknown_run(project, invoke):
    runs = fill(project)
    result = invoke("report", str(runs["tuned"]))
    assert result.exit_code == 0
    assert "## Gate decisions" in result.output and "FAIL" in result.output
    assert "field_accuracy" in result.output
    missing = invoke("report", "999")
    assert missing.exit_code == 2 and "no run '999'" in missing.output


def test_report_of_a_run_with_nothing_says_so(project, invoke):
    with project.run("import"):
        pass
    result = invoke("report", "latest")
    assert result.exit_code == 0
    assert "No evaluation results." in result.output and "No gates were applied." in result.output


def test_html_escapes_run_names(project, invoke, tmp_path):
    with project.run("eval", name="<script>alert(1)</script>") as run:
        project.store.add_eval_results(run.id, [{"task": "t", "metric": "m", "value": 1.0}])
    out = tmp_path / "r.html"
    assert invoke("report", "latest", "--html", str(out)).exit_code == 0
    assert "<script>" not in out.read_text()
