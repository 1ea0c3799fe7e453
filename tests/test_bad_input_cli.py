"""Every bad input of issue 14 through the CLI: exit 2, one line naming the file, line, key
or flag and what to do, no traceback, and every table of the store exactly as it was (no
failed run left behind, no run folder).

The project is prepared once (tiny model, one imported dataset) and copied per case.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.bad_input_helpers import (
    assert_one_line_exit_2,
    copy_project,
    prepare_project,
    snapshot,
)

GOOD = {"instruction": "Say hello to the team", "output": "Hello team!"}
GATE = '[[gate]]\ntask = "testset"\nmetric = "exact_match"\n'


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, tiny_model) -> Path:
    return prepare_project(tmp_path_factory.mktemp("prepared"), tiny_model)


@pytest.fixture
def case_project(prepared, tmp_path, monkeypatch) -> Path:
    root = copy_project(prepared, tmp_path / "project")
    monkeypatch.chdir(root)
    return root


def _write(name: str, text: str | bytes) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = root / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return setup


def _append(text: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = root / "ftp.toml"
        path.write_text(path.read_text() + text)
    return setup


def _replace(old: str, new: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = root / "ftp.toml"
        path.write_text(path.read_text().replace(old, new, 1))
    return setup


def _broken_model(kind: str) -> Callable[[Path], None]:
    """A copy of the project's model with one damaged file, at ./broken."""
    def setup(root: Path) -> None:
        source = Path(_model_path(root))
        broken = root / "broken"
        shutil.copytree(source, broken)
        if kind == "safetensors":
            weights = broken / "model.safetensors"
            weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        else:
            (broken / kind).write_text('{"model_type": "llama", ')
    return setup


def _model_changed(change: Callable[[Path], None]) -> Callable[[Path], None]:
    """A copy of the project's model at ./broken, changed by ``change(folder)``."""
    def setup(root: Path) -> None:
        broken = root / "broken"
        shutil.copytree(Path(_model_path(root)), broken)
        change(broken)
    return setup


def _config_value(**values) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, **values}))
    return _model_changed(change)


def _model_path(root: Path) -> str:
    import tomllib

    return tomllib.loads((root / "ftp.toml").read_text())["model"]["path"]


def _deep(depth: int) -> str:
    return '{"instruction": ' + "[" * depth + "]" * depth + ', "output": "x"}\n'


def _rating(**values) -> str:
    line = {"type": "rating", "sample_id": 1, "run_id": 1, "task": "testset", "doc_id": "0",
            "output": "x", "reviewer": "r", "score": 4, "passed": True, **values}
    return json.dumps(line) + "\n"


def _gates(text: str) -> Callable[[Path], None]:
    return _write("gates.toml", text)


# case -> (setup, args, what the one line must say)
CASES: dict[str, tuple[Callable[[Path], None] | None, list[str], str]] = {
    # data files
    "json_nested_100000_deep": (_write("d.jsonl", _deep(100_000)),
                                ["data", "import", "d.jsonl"], "d.jsonl:1: nested too deeply"),
    "json_array_nested_deep": (_write("d.json", "[" + _deep(100_000) + "]"),
                               ["data", "import", "d.json"], "d.json:1: nested too deeply"),
    "number_5000_digits": (_write("d.jsonl", json.dumps(GOOD)[:-1] + ', "n": ' + "9" * 5000
                                  + "}\n"), ["data", "import", "d.jsonl"],
                           "d.jsonl:1: a number with more digits"),
    "not_sqlite_source": (_write("d.db", b"this is not sqlite " * 100),
                          ["data", "import", "d.db"], "d.db: not a readable SQLite database"),
    "field_over_spacy_limit": (_write("d.jsonl", json.dumps(
        {"instruction": "a " * 600_000, "output": "x"}) + "\n"),
        ["data", "import", "d.jsonl"], "--max-field-chars"),
    "field_over_flag_limit": (_write("d.jsonl", json.dumps(GOOD) + "\n"),
                              ["data", "import", "d.jsonl", "--max-field-chars", "5"],
                              "instruction is 21 characters, over the limit of 5"),
    "line_over_limit": (_write("d.jsonl", json.dumps(GOOD) + "\n"),
                        ["data", "import", "d.jsonl", "--max-line-bytes", "10"],
                        "d.jsonl:1: line longer than 10 bytes"),
    "split_key_names_no_field": (_replace("[data]\n", '[data]\nsplit_key = "questoin"\n'),
                                 ["data", "import", "data.jsonl"],
                                 "data.split_key = 'questoin' names no field"),
    "csv_field_over_csv_limit": (_write("d.csv", "instruction,output\n" + "a" * 200_000 + ",b\n"),
                                 ["data", "import", "d.csv"], "d.csv:1: malformed CSV"),
    "arrow_garbage": (_write("d.arrow", b"garbage" * 100), ["data", "import", "d.arrow"],
                      "d.arrow: cannot read (ArrowInvalid"),
    "parquet_garbage": (_write("d.parquet", b"garbage" * 100), ["data", "import", "d.parquet"],
                        "not a readable Parquet file"),
    "sqlite_bad_query": (_write("d.db", b""), ["data", "import", "d.db", "--query", "select x"],
                         "SQLite query failed"),
    # ftp.toml values
    "config_nested_deep": (_append("\n[project]\nx = " + "[" * 50_000 + "]" * 50_000 + "\n"),
                           ["data", "import", "data.jsonl"], "ftp.toml: nested too deeply"),
    "test_fraction_1_5": (_replace("test_fraction = 0.25", "test_fraction = 1.5"),
                          ["data", "import", "data.jsonl"], "test_fraction"),
    "fractions_sum_to_1": (_replace("test_fraction = 0.25", "test_fraction = 0.85"),
                           ["data", "import", "data.jsonl"], "leaves nothing to train on"),
    # the store itself
    "store_not_sqlite": (None, ["runs"], "not a readable ftp store"),
    # model folders
    "eval_truncated_safetensors": (_broken_model("safetensors"), ["eval", "broken"],
                                   "not a complete safetensors file"),
    "train_truncated_safetensors": (_broken_model("safetensors"),
                                    ["train", "--model", "broken"],
                                    "not a complete safetensors file"),
    "eval_corrupt_config": (_broken_model("config.json"), ["eval", "broken"],
                            "config.json: not valid JSON"),
    "train_corrupt_config": (_broken_model("config.json"), ["train", "--model", "broken"],
                             "config.json: not valid JSON"),
    "eval_corrupt_tokenizer": (_broken_model("tokenizer.json"), ["eval", "broken"],
                               "tokenizer.json: not valid JSON"),
    "train_corrupt_tokenizer": (_broken_model("tokenizer.json"),
                                ["train", "--model", "broken"],
                                "tokenizer.json: not valid JSON"),
    "eval_unknown_model_type": (_config_value(model_type="banana"), ["eval", "broken"],
                                "does not recognize this architecture"),
    "train_config_value_wrong_type": (_config_value(hidden_size="abc"),
                                      ["train", "--model", "broken"], "hidden_size"),
    "eval_tokenizer_not_a_tokenizer": (_model_changed(lambda f: (f / "tokenizer.json").write_text(
        '{"version": "1.0", "model": 5}')), ["eval", "broken"], "cannot load the tokenizer"),
    "eval_no_weights": (_model_changed(lambda f: (f / "model.safetensors").unlink()),
                        ["eval", "broken"], "no weights"),
    # gates files (checked before anything is evaluated)
    "gates_alpha_high": (_gates('alpha = "high"\n' + GATE + "min = 0.1\n"),
                         ["eval", "--gates", "gates.toml"], "gates.toml:1: alpha must be"),
    "gates_alpha_1_5": (_gates("alpha = 1.5\n" + GATE), ["eval", "--gates", "gates.toml"],
                        "alpha must be a number between 0 and 1"),
    "gates_alpha_0": (_gates("alpha = 0\n" + GATE), ["eval", "--gates", "gates.toml"],
                      "alpha must be a number between 0 and 1"),
    "gate_alpha_2": (_gates(GATE + "alpha = 2\n"), ["eval", "--gates", "gates.toml"],
                     "alpha must be"),
    "gate_min_1_5": (_gates(GATE + "min = 1.5\n"), ["eval", "--gates", "gates.toml"],
                     "min = 1.5 can never be met"),
    "gate_min_text": (_gates(GATE + 'min = "high"\n'), ["eval", "--gates", "gates.toml"],
                      "min must be a number"),
    "gate_max_drop_negative": (_gates(GATE + "max_drop = -0.1\n"),
                               ["eval", "--gates", "gates.toml"], "max_drop must be 0 or more"),
    "gates_bootstrap_negative": (_gates("bootstrap_samples = -3\n" + GATE),
                                 ["eval", "--gates", "gates.toml"], "bootstrap_samples"),
    "gate_task_not_in_suite": (_gates('[[gate]]\ntask = "arc_easy"\nmetric = "acc"\n'),
                               ["eval", "--gates", "gates.toml"],
                               "the suite does not evaluate task 'arc_easy'"),
    "gate_metric_unknown": (_gates('[[gate]]\ntask = "testset"\nmetric = "accuracy"\n'),
                            ["eval", "--gates", "gates.toml"], "has no metric 'accuracy'"),
    "gates_nested_deep": (_gates("alpha = " + "[" * 50_000 + "]" * 50_000 + "\n"),
                          ["eval", "--gates", "gates.toml"], "gates.toml: nested too deeply"),
    "gate_significance_text": (_gates(GATE + 'significance = "no"\n'),
                               ["eval", "--gates", "gates.toml"], "significance must be"),
    "run_gate_task_not_in_suite": (_gates('[[gate]]\ntask = "arc_easy"\nmetric = "acc"\n'),
                                   ["run"], "the suite does not evaluate task 'arc_easy'"),
    # flags
    "eval_batch_size_minus_1": (None, ["eval", "--batch-size", "-1"], "--batch-size must be"),
    "eval_batch_size_0": (None, ["eval", "--batch-size", "0"], "--batch-size must be"),
    "eval_device_banana": (None, ["eval", "--device", "banana"], "'banana' is not a device"),
    "eval_device_missing_gpu": (None, ["eval", "--device", "cuda:9"], "no such device"),
    "eval_shots_minus_5": (None, ["eval", "--shots", "-5"], "--shots must be"),
    "eval_limit_minus_1": (None, ["eval", "--limit", "-1"], "--limit must be"),
    "eval_temperature_0": (None, ["eval", "--samples", "2", "--temperature", "0"],
                           "--temperature"),
    "train_batch_size_minus_1": (None, ["train", "--batch-size", "-1"], "batch_size"),
    "train_batch_size_0": (None, ["train", "--batch-size", "0"], "batch_size"),
    "train_fraction_0": (None, ["train", "--fraction", "0"], "--fraction must be in (0, 1]"),
    "train_fraction_1_5": (None, ["train", "--fraction", "1.5"], "--fraction must be"),
    "train_learning_rate_nan": (None, ["train", "--learning-rate", "nan"],
                                "learning_rate must be positive, got nan"),
    "eval_temperature_nan": (None, ["eval", "--samples", "2", "--temperature", "nan"],
                             "--temperature must be above 0"),
    # ratings files
    "ratings_nested_deep": (_write("r.jsonl", '{"type": "rating", "x": ' + "[" * 100_000
                                   + "]" * 100_000 + "}\n"), ["review", "--import", "r.jsonl"],
                            "r.jsonl:1: nested too deeply"),
    "rating_tags_not_a_list": (_write("r.jsonl", _rating(tags="urgent")),
                               ["review", "--import", "r.jsonl"], "tags must be a list"),
    "rating_score_99": (_write("r.jsonl", _rating(score=99)), ["review", "--import", "r.jsonl"],
                        "r.jsonl:1: score must be a number between 1 and 5, got 99"),
    "rating_passed_no": (_write("r.jsonl", _rating(passed="no")),
                         ["review", "--import", "r.jsonl"],
                         "r.jsonl:1: passed must be true or false, got 'no'"),
    "rating_score_text": (_write("r.jsonl", _rating(score="high")),
                          ["review", "--import", "r.jsonl"], "score must be a number"),
    "preference_chosen_maybe": (_write("r.jsonl", json.dumps(
        {"type": "preference", "chosen": "maybe"}) + "\n"), ["review", "--import", "r.jsonl"],
        "chosen must be a, b or tie"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_with_one_line_and_leaves_the_store_as_it_was(
        case_project, invoke, case):
    setup, args, expected = CASES[case]
    if case == "store_not_sqlite":
        before = None
        store = case_project / ".ftp" / "ftp.db"
        for extra in ("-wal", "-shm"):
            Path(f"{store}{extra}").unlink(missing_ok=True)
        store.write_bytes(b"not a database " * 100)
    else:
        if setup is not None:
            setup(case_project)
        before = snapshot(case_project)
    result = invoke(*args)
    line = assert_one_line_exit_2(result)
    assert expected in line or expected in result.output, result.output
    if before is not None:
        assert snapshot(case_project) == before
    else:
        assert (case_project / ".ftp" / "ftp.db").read_bytes().startswith(b"not a database")


def test_the_case_list_counts_distinct_bad_inputs():
    """The closing note's figure: how many distinct bad inputs this file tries."""
    assert len(CASES) >= 58
    assert os.environ.get("FTP_HOME")  # isolated home: nothing leaked into ~
