"""Evaluation-first splits: a new project splits by a hash of the whole prompt, and an import
says so when a split comes out empty or the split key cannot make the splits."""

from __future__ import annotations

import json

from ftp.plugins.data.splits import key_hash, split_key

INSTRUCTION = "Turn this email into a ticket."


def _patterns_tier(project, split_key: str = "") -> None:
    text = project.config_path.read_text()
    text = text.replace('tier = "ner"', 'tier = "patterns"')
    text = text.replace('split_key = ""', f'split_key = "{split_key}"', 1)
    project.config_path.write_text(text)
    project.__dict__.pop("config", None)


def test_the_default_split_key_is_the_whole_prompt(project):
    assert project.config["data"]["split_key"] == ""
    one = {"instruction": INSTRUCTION, "input": "My router is down", "output": "x"}
    two = {**one, "input": "I was charged twice"}
    assert split_key(one) != split_key(two)
    assert key_hash(one) != key_hash(two)
    assert split_key(one, "instruction") == split_key(two, "instruction")


def test_the_example_emails_give_a_non_empty_test_split(project, invoke):
    """The example task (one constant instruction, 300 different emails) in a fresh
    project: every split has examples, and no warning."""
    from ftp.plugins.loop.tickets import write_jsonl

    _patterns_tier(project)
    write_jsonl(project.root / "emails.jsonl", n=300)
    result = invoke("-q", "data", "import", "emails.jsonl", "--json")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)["counts"]
    assert counts["test"] >= 15 and counts["validation"] >= 5 and counts["train"] >= 200
    assert not [line for line in result.output.splitlines() if line.startswith("warning:")]


def test_an_explicit_split_key_keeps_working_and_warns_when_it_cannot_split(project,
                                                                          invoke):
    """split_key = "instruction" on one constant instruction: one split gets everything,
    and the import says so (two warnings: too few distinct keys, empty splits)."""
    _patterns_tier(project, "instruction")
    rows = [{"instruction": INSTRUCTION, "input": f"Email number {i} about the router",
             "output": f"ticket {i}"} for i in range(40)]
    (project.root / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke("-q", "data", "import", "d.jsonl", "--json")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout[: result.stdout.rindex("}") + 1])["counts"]
    assert sorted(counts[s] for s in ("train", "validation", "test"))[:2] == [0, 0]
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert any("has 1 distinct value(s), fewer than the 3 splits need" in w
               for w in warnings), result.output
    assert any("split is empty" in w for w in warnings), result.output
