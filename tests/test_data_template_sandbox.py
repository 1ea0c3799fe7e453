"""A Jinja template named in ftp.toml is code from a project file: it renders in Jinja's
immutable sandbox, so a template that reaches for Python internals to run a shell command
stops with one clear line (exit 2) and the command never runs."""

from __future__ import annotations

import json

import pytest

TEMPLATES = [
    "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}{{ response }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}{{ response }}",
    "{% set x = messages.append({'role': 'x'}) %}{{ response }}",
]


@pytest.mark.parametrize("body", TEMPLATES)
def test_a_template_cannot_run_a_shell_command(project, invoke, tiny_model, body):
    from ftp.plugins.data.api import import_dataset

    rows = [{"instruction": f"Classify ticket {i}", "output": "outage"} for i in range(8)]
    (project.root / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_dataset(project, project.root / "t.jsonl")
    (project.root / "evil.jinja").write_text(body)
    toml = project.root / "ftp.toml"
    toml.write_text(toml.read_text().replace('template = "chat_template"',
                                             'template = "evil.jinja"', 1))
    result = invoke("data", "stats", "--model", str(tiny_model))
    assert result.exit_code == 2, result.output
    assert "refused by the sandbox" in result.output and "evil.jinja" in result.output
    assert "Traceback" not in result.output
    assert not (project.root / "PWNED").exists()

