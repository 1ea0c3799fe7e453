"""The `testset` evaluator, its metrics, the error categorizers and `ftp errors`."""

from __future__ import annotations

import json

import pytest

from ftp.plugins.evaluation import categorize, metrics


def test_metrics_on_known_pairs():
    scores = metrics.score("The Paris.", "paris")
    assert scores["exact_match"] == 0 and scores["normalized_match"] == 1
    assert metrics.token_f1("x y z", "y z w") == pytest.approx(2 / 3)
    assert metrics.rouge_l("the cat sat", "the cat sat") == 1
    structured = metrics.score('{"a": 1, "b": 2}', '{"a": 1, "b": 3}')
    assert structured["json_valid"] == 1 and structured["field_accuracy"] == 0.5
    assert metrics.score("not json", '{"a": 1}')["json_valid"] == 0
    rows = {r["metric"]: r for r in metrics.aggregate([{"x": 1.0}, {"x": 0.0}])}
    assert rows["x"]["value"] == 0.5 and rows["x"]["stderr"] == pytest.approx(0.5)


@pytest.mark.parametrize("name,sample,expected", [
    ("misspelling", {"output": "The recieve date", "reference": "the date"}, True),
    ("misspelling", {"output": "The receive date", "reference": "the date"}, False),
    ("too_long", {"output": "x", "meta": {"max_new_tokens": 8, "output_tokens": 8}}, True),
    ("too_short", {"output": "", "reference": "an answer"}, True),
    ("repetitive", {"output": "I am here. " * 5}, True),
    ("repetitive", {"output": "A varied sentence with many different words in it."}, False),
    ("hallucination", {"prompt": "Order 12 shipped", "output": "order 13 shipped to Boston",
                       "reference": "order 12"}, True),
    ("hallucination", {"prompt": "Order 12", "output": "order 12", "reference": "12"}, False),
    ("inconsistent", {"output": "yes", "meta": {"alternatives": ["no", "yes"]}}, True),
    ("format_error", {"output": "{bad", "reference": '{"a": 1}'}, True),
    ("format_error", {"output": '{"b": 1}', "reference": '{"a": 1}'}, True),
    ("refusal", {"output": "I'm sorry, I cannot help.", "reference": "42"}, True),
])
def test_categorizers(name, sample, expected):
    function = categorize.BUILTIN[name][0]
    assert bool(function({"prompt": "", "reference": "", **sample})) is expected


def test_categorizers_are_registered_plugins():
    from ftp import registry

    assert set(categorize.BUILTIN) <= set(registry.collect("error_categorizers"))


@pytest.fixture
def data_project(project, tmp_path):
    from ftp.plugins.data.api import import_dataset

    rows = [{"instruction": f"Say the number {i} twice.", "output": f"{i} {i}"}
            for i in range(60)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_dataset(project, path)
    return project


def test_testset_generates_scores_stores_and_categorises(data_project, tiny_model, invoke):
    from ftp.plugins.evaluation.job import EvalSettings
    from ftp.plugins.evaluation.runner import evaluate

    settings = EvalSettings(limit=4, batch_size=2, max_new_tokens=6)
    outcome = evaluate(data_project, str(tiny_model), ["testset"], settings)
    found = {r["metric"]: r for r in outcome.results}
    assert {"exact_match", "normalized_match", "token_f1", "rouge_l"} <= set(found)
    assert found["token_f1"]["n"] == 4
    samples = data_project.store.samples(outcome.run.id, "testset")
    assert len(samples) == 4 and all(s["output"] is not None for s in samples)
    categories = [json.loads(s["categories"]) for s in samples]
    assert any(categories)  # a random tiny model's answers are wrong in some way
    shown = invoke("errors", str(outcome.run.id), "--compare", str(outcome.run.id), "--json")
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout[shown.stdout.index("{"):])
    assert report["samples"] == 4 and report["categories"]
    assert all(row["change"] == 0 for row in report["compare"]["changes"])
