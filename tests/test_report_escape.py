"""report.md escapes what users wrote (run names, gate names and reasons) as report.html
does: a name holding markdown or HTML shows as text, it does not become a link, a script
or a broken table."""

from __future__ import annotations

import re

import pytest

from ftp.plugins.report.render import md_escape

EVIL = "x<script>alert(1)</script> [click](javascript:alert(1)) **bold** `code` | col\nrow"


def test_a_run_name_with_markup_stays_text_in_report_md(project, invoke, tmp_path):
    with project.run("eval", name=EVIL, model="m") as run:
        project.store.add_eval_results(run.id, [
            {"task": "testset", "metric": "acc", "value": 0.5, "n": 4}])
    md, page = tmp_path / "report.md", tmp_path / "report.html"
    result = invoke("report", str(run.id), "--markdown", str(md), "--html", str(page))
    assert result.exit_code == 0, result.output
    markdown = md.read_text()
    assert "<script>" not in markdown and not re.search(r"(?<!\\)\]\(", markdown)
    assert "**bold**" not in markdown and "`code`" not in markdown
    assert "\\<script\\>" in markdown and "\\[click\\]" in markdown and "\\| col row" in markdown
    row = next(line for line in markdown.splitlines() if "alert" in line and "testset" in line)
    assert row.count(" | ") == 5  # the name's pipe did not add a column
    assert "<script>" not in page.read_text()


@pytest.mark.parametrize("text,escaped", [
    ("wrong_priority", "wrong_priority"), ("_em_", "\\_em\\_"), ("a & b", "a \\& b"),
    ("#1 <b>", "\\#1 \\<b\\>"), ("run #2", "run #2"), ("0.5 ± 0.1", "0.5 ± 0.1"), ("-30", "-30"),
])
def test_md_escape(text, escaped):
    assert md_escape(text) == escaped
