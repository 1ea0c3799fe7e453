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


@pytest.mark.parametrize("reply,expected", [
    ("Score: 5", 1.0),
    ("score = 3", 0.5),
    ("**Rating:** 2/5 because it misses the point", 0.25),
    ("The answer earns 4 out of 5.", 0.75),
    ("8/10", 7 / 9),
    ("1", 0.0),
    ("PASS", 1.0),
    ("Verdict: failed", 0.0),
    ("Score: 9", None),  # outside the 1-5 scale
    ("I cannot rate this.", None),
    ("", None),
])
def test_judge_reply_parsing(reply, expected):
    from ftp.plugins.evaluation.judge import parse_score

    value = parse_score(reply)
    assert value == (pytest.approx(expected) if expected is not None else None)


def test_judge_prompt_carries_rubric_and_texts():
    from ftp.plugins.evaluation.judge import DEFAULT_RUBRIC, judge_prompt

    text = judge_prompt("Be strict about units.", "How far?", "3 km", "3 miles")
    assert text.startswith("Be strict about units.") and "3 km" in text and "3 miles" in text
    assert DEFAULT_RUBRIC in judge_prompt(None, "q", "r", "o")


def test_samples_and_judge_through_eval(data_project, tiny_model, invoke):
    config = data_project.config_path
    config.write_text(config.read_text().replace(
        'judge_model = ""', f'judge_model = "{tiny_model}"').replace(
        'judge_rubric = ""', 'judge_rubric = "Full marks only for the exact number twice."')
        .replace("max_new_tokens = 256", "max_new_tokens = 8"))
    result = invoke("eval", str(tiny_model), "--suite", "testset", "--limit", "3",
                    "--batch-size", "3", "--samples", "3", "--temperature", "1.5", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    found = {r["metric"]: r for r in report["results"]}
    assert found["judge_parsed"]["n"] == 3 and 0 <= found["judge_parsed"]["value"] <= 1
    assert found["self_consistency"]["n"] == 3
    samples = data_project.store.samples(report["run"], "testset")
    metas = [json.loads(s["meta"]) for s in samples]
    assert all(len(m["alternatives"]) == 2 and isinstance(m["judge"], str) for m in metas)
    # a random tiny model sampled at temperature 1.5 does not repeat itself
    assert any("inconsistent" in json.loads(s["categories"]) for s in samples)
    bad = invoke("eval", str(tiny_model), "--suite", "testset", "--samples", "0")
    assert bad.exit_code == 2 and "--samples must be 1 or more" in bad.output
