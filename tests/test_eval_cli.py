"""`ftp eval` end to end on the tiny model: results, cache, gates, exit codes, reports,
and one clear message (exit 2) for each kind of bad input; `ftp bench import`."""

from __future__ import annotations

import json

import pytest
from conftest import BENCHDATA

pytestmark = pytest.mark.skipif(not BENCHDATA.is_dir(), reason="no shared benchmark data")
ARGS = ("--suite", "arc_challenge", "--limit", "10", "--batch-size", "4")


@pytest.fixture
def arc(invoke):
    result = invoke("bench", "import", "arc_challenge", str(BENCHDATA / "arc"))
    assert result.exit_code == 0, result.output


def _eval(invoke, model, *extra):
    return invoke("eval", str(model), *ARGS, *extra)


def test_eval_stores_results_samples_and_reuses_them(project, invoke, arc, tiny_model, capfd):
    first = _eval(invoke, tiny_model, "--json")
    assert first.exit_code == 0, first.output
    # the project folder is no git checkout: lm-eval's git lookup must not print "fatal: ..."
    assert "not a git repository" not in capfd.readouterr().err
    report = json.loads(first.stdout[first.stdout.index("{"):])
    acc = {r["metric"]: r for r in report["results"]}["acc"]
    assert acc["n"] == 10 and 0 <= acc["value"] <= 1 and report["cached"] == []
    samples = project.store.samples(report["run"], "arc_challenge")
    assert len(samples) == 10
    assert len(json.loads(samples[0]["scores"])["loglikelihoods"]) >= 3
    second = _eval(invoke, tiny_model, "--json")
    again = json.loads(second.stdout[second.stdout.index("{"):])
    assert again["cached"] == ["arc_challenge"]
    assert {r["metric"]: r["value"] for r in again["results"]}["acc"] == acc["value"]
    assert len(project.store.samples(again["run"])) == 10


def test_gates_pass_fail_exit_codes_and_reports(project, invoke, arc, tiny_model, tmp_path):
    gates = tmp_path / "gates.toml"
    gates.write_text('[[gate]]\ntask = "arc_challenge"\nmetric = "acc"\nmin = 0.0\n')
    baseline = _eval(invoke, tiny_model)
    assert baseline.exit_code == 0
    junit, markdown = tmp_path / "out" / "junit.xml", tmp_path / "out" / "summary.md"
    ok = _eval(invoke, tiny_model, "--baseline", "1", "--gates", str(gates), "--junit",
               str(junit), "--markdown", str(markdown))
    assert ok.exit_code == 0, ok.output
    assert 'failures="0"' in junit.read_text() and "Gates: PASSED" in markdown.read_text()
    assert project.store.db["gate_decisions"].count == 1
    gates.write_text('[[gate]]\ntask = "arc_challenge"\nmetric = "acc"\nmin = 1.0\n')
    failed = _eval(invoke, tiny_model, "--gates", str(gates), "--junit", str(junit))
    assert failed.exit_code == 1
    assert "below the floor" in failed.output and "<failure" in junit.read_text()


@pytest.mark.parametrize("gates_text,message", [
    ('[[gate]]\ntask = "arc_challenge"\nmetric = "f1"\n',
     "task arc_challenge has no metric 'f1'; its metrics: acc, acc_norm"),
    ('[[gate]\n', "gates.toml:1: TOML syntax error"),
])
def test_bad_gates_exit_2(project, invoke, arc, tiny_model, tmp_path, gates_text, message):
    gates = tmp_path / "gates.toml"
    gates.write_text(gates_text)
    result = _eval(invoke, tiny_model, "--gates", str(gates))
    assert result.exit_code == 2 and message in result.output


def test_unknown_task_lists_known_ones(project, invoke, tiny_model):
    result = invoke("eval", str(tiny_model), "--suite", "arc_chalenge")
    assert result.exit_code == 2
    assert "unknown evaluator 'arc_chalenge'" in result.output and "arc_challenge" in result.output


def test_missing_benchmark_says_how_to_import(project, invoke, tiny_model):
    result = invoke("eval", str(tiny_model), "--suite", "hellaswag")
    assert result.exit_code == 2
    assert "ftp bench import hellaswag PATH" in result.output


def test_model_folder_without_tokenizer(project, invoke, tiny_model, tmp_path, arc):
    import shutil

    broken = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_model, broken)
    for path in broken.glob("tokenizer*"):
        path.unlink()
    result = invoke("eval", str(broken), *ARGS)
    assert result.exit_code == 2, result.output


def test_bench_import_checks_counts_and_formats(invoke, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ftp import paths

    rows = [json.loads(line) for line in
            (BENCHDATA / "arc" / "ARC-Easy-Test.jsonl").read_text().splitlines()[:5]]
    partial = tmp_path / "ARC-Easy-Test.jsonl"
    partial.write_text("".join(json.dumps(r) + "\n" for r in rows))
    refused = invoke("bench", "import", "arc_easy", str(partial))
    assert refused.exit_code == 2 and "official release has 2376" in refused.output
    assert invoke("bench", "import", "arc_easy", str(partial), "--no-check-counts").exit_code == 0
    hf = [{"id": r["id"], "question": r["question"]["stem"], "answerKey": r["answerKey"],
           "choices": {"text": [c["text"] for c in r["question"]["choices"]],
                       "label": [c["label"] for c in r["question"]["choices"]]}} for r in rows]
    parquet = tmp_path / "hf" / "ARC-Easy" / "test-00000-of-00001.parquet"
    parquet.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(hf), parquet)
    assert invoke("bench", "import", "arc_easy", str(tmp_path / "hf"),
                  "--no-check-counts").exit_code == 0
    installed = (paths.benchmarks_dir() / "arc_easy" / "test.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in installed] == hf
    full = invoke("bench", "import", "hellaswag", str(BENCHDATA / "hellaswag"))
    assert full.exit_code == 0 and "validation 10042" in full.output


def test_bench_jsonl_bz2_rows_and_a_malformed_line(tmp_path):
    """Compressed JSONL releases are read through the data pipeline's streaming reader: blank
    lines skipped, a malformed line named by file and line."""
    import bz2

    from ftp.errors import InputError
    from ftp.plugins.evaluation.formats import read_jsonl_rows

    good = tmp_path / "mc_task.jsonl.bz2"
    good.write_bytes(bz2.compress(b'{"a": 1}\n\n{"a": 2}\n'))
    assert read_jsonl_rows(good) == [{"a": 1}, {"a": 2}]
    bad = tmp_path / "broken.jsonl.bz2"
    bad.write_bytes(bz2.compress(b'{"a": 1}\n{"a": \n'))
    with pytest.raises(InputError) as caught:
        read_jsonl_rows(bad)
    assert "broken.jsonl.bz2:2: malformed JSON" in caught.value.format()
