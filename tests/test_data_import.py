"""Import from every source kind, versions, dedupe, scrubbing, splits, fractions, diff."""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest

from ftp.plugins.data.api import import_dataset, load_records, resolve_dataset


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def qa(i: int) -> dict:
    return {"instruction": f"Explain item {i} of the catalogue in plain words, number {i}.",
            "input": "", "output": f"Item {i} is a thing with the code {i * 7}."}


def count(project, table: str) -> int:
    return project.store.db[table].count


def test_import_jsonl_stores_a_version_with_splits_and_a_run(project, invoke):
    write_jsonl(project.root / "qa.jsonl", [qa(i) for i in range(60)])
    result = invoke("data", "import", "qa.jsonl")
    assert result.exit_code == 0, result.output
    assert "qa@1" in result.output and "60 examples" in result.output
    dataset = resolve_dataset(project)
    counts = dataset["counts"]
    assert counts["total"] == 60 == counts["train"] + counts["validation"] + counts["test"]
    assert counts["test"] > 0 and counts["train"] > 40
    assert dataset["format"] == "alpaca" and len(dataset["content_hash"]) == 64
    run = project.store.list_runs(kind="import")[0]
    assert run.status == "finished" and run.dataset_id == dataset["id"]
    record = load_records(project, dataset["id"], "train")[0]
    assert record["format"] == "alpaca" and set(record) == {"format", "instruction",
                                                           "input", "output"}
    listed = invoke("data", "list")
    assert "qa" in listed.output and str(counts["train"]) in listed.output


def test_every_record_is_scrubbed_before_it_is_stored(project):
    records = [{"prompt": f"Write to jane.doe{i}@example.com about order {i}",
                "completion": f"Done, mailed jane.doe{i}@example.com"} for i in range(5)]
    dataset = import_dataset(project, write_jsonl(project.root / "pc.jsonl", records))
    stored = "\n".join(r["record"] for r in project.store.db["examples"].rows)
    assert "example.com" not in stored and "<EMAIL_ADDRESS>" in stored
    assert dataset["scrub_report"]["entities"]["EMAIL_ADDRESS"] == 10


def test_exact_and_near_duplicates_are_removed_and_reported(project):
    base = [qa(i) for i in range(10)]
    near = dict(base[3], output=base[3]["output"] + " Really.")
    exact = dict(base[5], instruction=base[5]["instruction"].upper())
    dataset = import_dataset(project, write_jsonl(project.root / "d.jsonl",
                                                  base + [near, exact]))
    assert dataset["counts"]["total"] == 10
    assert dataset["counts"]["duplicates"] == 1
    assert dataset["counts"]["near_duplicates"] == 1
    examples = dataset["meta"]["duplicate_examples"]
    assert examples["duplicate"] == [{"location": "12", "duplicate_of": "6"}]
    assert examples["near_duplicate"][0]["duplicate_of"] == "4"


def test_splits_are_stable_when_data_grows_and_versions_chain(project, invoke):
    path = project.root / "grow.jsonl"
    first = import_dataset(project, write_jsonl(path, [qa(i) for i in range(80)]))
    second = import_dataset(project, write_jsonl(path, [qa(i) for i in range(160)]))
    assert (second["version"], second["parent_id"]) == (2, first["id"])
    db = project.store.db
    moved = db.execute("select count(*) from examples x join examples y on "
                       "x.content_hash = y.content_hash where x.dataset_id = ? and "
                       "y.dataset_id = ? and x.split != y.split",
                       [first["id"], second["id"]]).fetchone()[0]
    assert moved == 0
    result = invoke("data", "diff", "grow@1", "grow@2")
    assert result.exit_code == 0, result.output
    assert "+80 added, -0 removed, 80 unchanged, 0 moved" in result.output
    assert resolve_dataset(project, "grow")["version"] == 2
    assert resolve_dataset(project, "grow@1")["id"] == first["id"]


def test_fractions_are_nested_and_deterministic(project):
    import_dataset(project, write_jsonl(project.root / "f.jsonl", [qa(i) for i in range(200)]))
    tenth = load_records(project, "f", fraction=0.1)
    quarter = load_records(project, "f", fraction=0.25)
    full = load_records(project, "f")
    assert 0 < len(tenth) < len(quarter) < len(full)
    assert all(r in quarter for r in tenth)
    assert tenth == load_records(project, "f", fraction=0.1)


def test_canaries_go_to_train_only_and_not_to_other_splits(project):
    text = project.config_path.read_text().replace("canaries = 0", "canaries = 3")
    project.config_path.write_text(text)
    project.__dict__.pop("config", None)
    dataset = import_dataset(project, write_jsonl(project.root / "c.jsonl",
                                                  [qa(i) for i in range(30)]))
    assert dataset["counts"]["canaries"] == 3
    tagged = [dict(r) for r in project.store.db["examples"].rows_where("tags like '%canary%'")]
    assert len(tagged) == 3 and {r["split"] for r in tagged} == {"train"}
    assert len(load_records(project, dataset["id"], "train", fraction=0.01)) >= 3
    from click.testing import CliRunner

    from ftp.cli import build_cli

    result = CliRunner().invoke(build_cli(), ["data", "export", "-o", "out.jsonl"])
    assert result.exit_code == 0, result.output
    exported = (project.root / "out.jsonl").read_text().splitlines()
    secrets = [row["secret"] for row in project.store.db["canaries"].rows]
    assert len(exported) == 30 and len(secrets) == 3
    assert not any(secret in line for secret in secrets for line in exported)


def test_stratified_splits_keep_proportions_per_value(project):
    text = project.config_path.read_text().replace('stratify = ""', 'stratify = "input"')
    project.config_path.write_text(text.replace("test_fraction = 0.1", "test_fraction = 0.2"))
    project.__dict__.pop("config", None)
    records = [dict(qa(i), input="billing" if i % 4 else "outage") for i in range(100)]
    dataset = import_dataset(project, write_jsonl(project.root / "s.jsonl", records))
    rows = project.store.db.execute(
        "select json_extract(record, '$.input'), count(*) from examples where "
        "dataset_id = ? and split = 'test' group by 1", [dataset["id"]]).fetchall()
    assert dict(rows) == {"billing": 15, "outage": 5}


def test_near_duplicate_prompts_across_splits_are_flagged(project):
    text = project.config_path.read_text().replace("near_duplicate_threshold = 0.9",
                                                   "near_duplicate_threshold = 0")
    project.config_path.write_text(text.replace("test_fraction = 0.1", "test_fraction = 0.5"))
    project.__dict__.pop("config", None)
    long = "Summarise the quarterly report of the northern region sales team for product {}"
    records = [{"instruction": long.format(i % 2) + "!" * (i // 2), "output": f"ok {i}"}
               for i in range(20)]
    dataset = import_dataset(project, write_jsonl(project.root / "k.jsonl", records))
    assert dataset["counts"]["contaminated"] > 0
    flagged = project.store.db["examples"].rows_where("tags like '%contaminated%'")
    assert all(r["split"] != "train" for r in flagged)


@pytest.mark.parametrize("kind", ["json", "csv", "tsv", "parquet", "sqlite", "hf", "text"])
def test_every_source_kind_imports(project, kind):
    # about the readers, not NER: the small spaCy model tags "Item 2" as a person
    project.config["privacy"]["tier"] = "patterns"
    records = [qa(i) for i in range(6)]
    path = _write_source(project.root, kind, records)
    dataset = import_dataset(project, path, **({"table": "items"} if kind == "sqlite" else {}))
    expected = "text" if kind == "text" else "alpaca"
    assert dataset["format"] == expected and dataset["counts"]["total"] == 6
    stored = load_records(project, dataset["id"], "all")
    if kind != "text":
        assert sorted(r["output"] for r in stored) == sorted(r["output"] for r in records)


def _write_source(root, kind, records):
    if kind == "json":
        path = root / "d.json"
        path.write_text(json.dumps(records, indent=2))
    elif kind in ("csv", "tsv"):
        path = root / f"d.{kind}"
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(records[0]),
                                    delimiter="," if kind == "csv" else "\t")
            writer.writeheader()
            writer.writerows(records)
    elif kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = root / "d.parquet"
        pq.write_table(pa.Table.from_pylist(records), path)
    elif kind == "sqlite":
        path = root / "d.db"
        with sqlite3.connect(path) as db:
            db.execute("create table items (instruction, input, output)")
            db.executemany("insert into items values (:instruction, :input, :output)", records)
            db.execute("create table other (x)")
    elif kind == "hf":
        from datasets import Dataset

        path = root / "hf"
        Dataset.from_list(records).save_to_disk(str(path))
    else:
        path = root / "docs"
        path.mkdir()
        for i, record in enumerate(records):
            (path / f"doc{i}.txt").write_text(record["output"])
    return path


def test_field_mapping_and_chat_with_tool_calls(project, invoke):
    rows = [{"question": f"What is {i}+{i}?", "answer": str(2 * i)} for i in range(5)]
    write_jsonl(project.root / "m.jsonl", rows)
    result = invoke("data", "import", "m.jsonl", "--map", "instruction=question,output=answer")
    assert result.exit_code == 0, result.output
    assert load_records(project, "m", "all")[0]["instruction"].startswith("What is")
    chat = [{"messages": [
        {"role": "system", "content": "You book rooms."},
        {"role": "user", "content": f"Book room {i}"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "book", "arguments": {"room": i}}}]},
        {"role": "tool", "content": "booked", "tool_call_id": "c1"},
        {"role": "assistant", "content": f"Room {i} is booked."}]} for i in range(4)]
    dataset = import_dataset(project, write_jsonl(project.root / "chat.jsonl", chat))
    stored = load_records(project, dataset["id"], "all")
    assert dataset["format"] == "chat"
    assert stored[0]["messages"][2]["tool_calls"][0]["function"]["name"] == "book"


def test_skip_mode_stores_the_rest_and_reports_every_skipped_line(project, invoke):
    lines = [json.dumps(qa(1)), json.dumps({"instruction": "x y z"}), json.dumps(qa(2)),
             json.dumps({"instruction": "", "output": "y"}), json.dumps(qa(3))]
    (project.root / "s.jsonl").write_text("\n".join(lines) + "\n")
    result = invoke("data", "import", "s.jsonl", "--on-error", "skip")
    assert result.exit_code == 0, result.output
    assert "skipped s.jsonl:2: missing field 'output'" in result.output
    assert "skipped s.jsonl:4: empty field 'instruction'" in result.output
    assert resolve_dataset(project)["counts"]["total"] == 3
