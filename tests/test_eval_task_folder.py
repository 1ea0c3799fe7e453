"""`ftp eval --lm-eval-task PATH`: a user's own lm-eval task folder over a local JSONL runs
like a built-in benchmark (numbers equal lm-eval's own run, samples stored, results cached
until the folder's files change)."""

from __future__ import annotations

import json

import pytest

ROWS = [
    {"question": "What colour is the sky on a clear day?", "choices": ["blue", "green", "red"],
     "answer": 0},
    {"question": "How many legs does a spider have?", "choices": ["six", "eight", "ten"],
     "answer": 1},
    {"question": "Which is a fruit?", "choices": ["carrot", "potato", "apple"], "answer": 2},
    {"question": "What do bees make?", "choices": ["honey", "milk", "silk"], "answer": 0},
    {"question": "Which planet do we live on?", "choices": ["Mars", "Earth", "Venus"],
     "answer": 1},
    {"question": "What is frozen water called?", "choices": ["steam", "sand", "ice"],
     "answer": 2},
]
YAML = """task: my_qa
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: answer
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


@pytest.fixture
def task_folder(tmp_path):
    folder = tmp_path / "my_tasks"
    folder.mkdir()
    data = folder / "qa.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    (folder / "my_qa.yaml").write_text(YAML.format(data=data))
    return folder


def _report(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{"):])


def _lm_eval_reference(folder, model_path) -> dict:
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=str(model_path), batch_size=1, device="cpu")
    out = lm_eval.simple_evaluate(model=lm, tasks=["my_qa"], verbosity="ERROR",
                                  task_manager=TaskManager(include_path=str(folder),
                                                           include_defaults=False))
    return out["results"]["my_qa"]


def test_user_task_folder_runs_like_a_benchmark(project, invoke, tiny_model, task_folder):
    report = _report(invoke("eval", str(tiny_model), "--lm-eval-task", str(task_folder),
                            "--json"))
    acc = {(r["task"], r["metric"]): r for r in report["results"]}[("my_qa", "acc")]
    theirs = _lm_eval_reference(task_folder, tiny_model)
    assert acc["n"] == len(ROWS)
    assert acc["value"] == pytest.approx(theirs["acc,none"], abs=1e-6)
    assert acc["stderr"] == pytest.approx(theirs["acc_stderr,none"], abs=1e-6)
    samples = project.store.samples(report["run"], "my_qa")
    assert len(samples) == len(ROWS)
    assert {s["reference"].strip() for s in samples} == {r["choices"][r["answer"]] for r in ROWS}
    assert all(len(json.loads(s["scores"])["loglikelihoods"]) == 3 for s in samples)

    again = _report(invoke("eval", str(tiny_model), "--lm-eval-task", str(task_folder),
                           "--json"))
    assert again["cached"] == [f"lm-eval:{task_folder.name}"]

    with (task_folder / "qa.jsonl").open("a") as data:  # the folder changed: not stale
        data.write(json.dumps({"question": "Which animal barks?",
                               "choices": ["cat", "dog", "cow"], "answer": 1}) + "\n")
    changed = _report(invoke("eval", str(tiny_model), "--lm-eval-task", str(task_folder),
                             "--json"))
    assert changed["cached"] == []
    assert {r["metric"]: r["n"] for r in changed["results"]}["acc"] == len(ROWS) + 1


def test_task_folder_that_is_not_a_folder(project, invoke, tiny_model, tmp_path):
    result = invoke("eval", str(tiny_model), "--lm-eval-task", str(tmp_path / "missing"))
    assert result.exit_code == 2
    assert "not a folder of lm-eval task YAML files" in result.output
