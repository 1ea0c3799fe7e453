"""ftp.toml sections declared by plugins (register_settings): template, validation, doctor."""

from __future__ import annotations

import tomllib

import pytest

import ftp
from ftp import config, settings
from ftp.api import Setting
from ftp.errors import ConfigError, PluginError

# An ftp.toml as `ftp init` wrote it before sections were declared by plugins (abridged):
# an existing project's file must keep loading unchanged.
EXISTING = """
[project]
name = "old"
task = "Answer tickets."

[model]
path = "smollm2-135m-instruct"

[data]
sources = []
map = {}
on_error = "fail"
validation_fraction = 0.05
test_fraction = 0.1

[train]
method = "lora"
epochs = 1
learning_rate = 2e-4
target_modules = "all-linear"

[eval]
suite = "testset"
judge_model = ""

[privacy]
entities = ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN",
            "IBAN_CODE", "IP_ADDRESS", "LOCATION"]
"""


class Widget:
    """A plugin declaring its own section, with a cross-key check."""

    @ftp.hookimpl
    def register_settings(self, register):
        def check(values, path):
            if values["competitor"] and values["margin"] <= 0:
                raise ConfigError(f"{path}: widget.margin must be positive with a competitor")

        register("widget", [Setting("competitor", str, "", "a rival model to beat"),
                          Setting("margin", float, 0.05, "by how much", minimum=-1, maximum=1),
                          Setting("mode", str, "strict", "how", choices=("strict", "loose"))],
                 check=check, help="The widget plugin's settings.")


def test_the_template_is_built_from_the_declarations():
    text = config.template_text("demo")
    parsed = tomllib.loads(text)
    expected = config.defaults()
    expected["project"]["name"] = "demo"
    assert parsed == expected
    builtin = ["project", "model", "data", "format", "train", "eval", "gates", "run", "privacy"]
    assert [name for name in parsed if name in builtin] == builtin
    assert "learning_rate = 2e-4" in text  # written as a person would, not 0.0002
    assert max(len(line) for line in text.splitlines()) <= 100


def test_an_existing_ftp_toml_keeps_working():
    merged = config.validate(tomllib.loads(EXISTING))
    assert merged["train"]["learning_rate"] == 2e-4 and merged["eval"]["suite"] == "testset"
    assert merged["format"]["max_length"] == 1024  # undeclared in the file: the default


@pytest.mark.parametrize(("data", "message"), [
    ({"train": {"epochs": "many"}}, "train.epochs must be a number, got 'many'"),
    ({"train": {"packing": 1}}, r"train.packing must be a boolean"),
    ({"train": {"distributed": "ring"}}, r"train.distributed must be one of 'ddp', 'fsdp'"),
    ({"eval": {"batch_size": 0}}, r"eval.batch_size must be at least 1, got 0"),
    ({"privacy": {"score_threshold": 1.5}}, r"privacy.score_threshold must be between 0"),
    ({"train": {"lora_rank": 8}}, r"unknown key train.lora_rank; allowed in \[train\]: .*lora_r"),
    ({"trian": {}}, r"unknown section \[trian\]; allowed: .*train"),
])
def test_bad_values_name_the_file_and_key(data, message):
    with pytest.raises(ConfigError, match=message) as error:
        config.validate(data, "here/ftp.toml")
    assert str(error.value).startswith("here/ftp.toml: ")


def test_hook_register_settings(register_plugin, project):
    register_plugin(Widget(), name="widget")
    assert settings.sections()["widget"].plugin == "widget"
    text = config.template_text("demo")
    assert "[widget]\n# The widget plugin's settings.\n" in text and 'competitor = ""' in text
    (project.root / "ftp.toml").write_text('[widget]\ncompetitor = "rival-1b"\n')
    assert ftp.open_project(str(project.root)).config["widget"] == {
        "competitor": "rival-1b", "margin": 0.05, "mode": "strict"}
    with pytest.raises(ConfigError, match="widget.mode must be one of 'strict', 'loose'"):
        config.validate({"widget": {"mode": "lax"}})
    with pytest.raises(ConfigError, match="widget.margin must be positive with a competitor"):
        config.validate({"widget": {"competitor": "x", "margin": 0}})
    with pytest.raises(ConfigError, match="unknown key widget.colour"):
        config.validate({"widget": {"colour": "red"}})


def test_a_section_declared_twice_names_both_plugins(register_plugin):
    register_plugin(Widget(), name="widget-one")
    register_plugin(Widget(), name="widget-two")
    with pytest.raises(PluginError, match=r"\[widget\] is declared by both widget-one and "
                                          r"widget-two"):
        settings.sections()


def test_doctor_lists_the_declared_sections(register_plugin):
    from ftp.plugins.doctor import settings_state

    register_plugin(Widget(), name="widget")
    state = settings_state()["sections"]
    assert state["widget"] == {"plugin": "widget", "keys": ["competitor", "margin", "mode"]}
    assert state["train"]["plugin"] == "ftp.plugins.training.sections"


def test_eval_settings_have_one_constructor(project):
    """`ftp run`, `ftp eval` and `ftp sweep` read [eval] through the same constructor."""
    from ftp.plugins.evaluation.cli_eval import _settings, configured

    table = {**project.config["eval"], "samples": 3, "temperature": 0.5,
             "judge_model": "judge", "limit": 7}
    suite, from_run = configured(table)  # what `ftp run` and `ftp sweep` use
    from_eval = _settings(table, None, None, None, 1234, None)  # `ftp eval` without flags
    assert from_run == from_eval and suite == ["testset"]
    assert (from_run.samples, from_run.temperature, from_run.judge_model, from_run.limit) == (
        3, 0.5, "judge", 7)


def test_doctor_settings_lists_every_declared_key(register_plugin, invoke):
    import json

    register_plugin(Widget(), name="widget-settings")
    rows = json.loads(invoke("doctor", "--settings", "--json").stdout)
    by_key = {(r["section"], r["key"]): r for r in rows}
    assert by_key[("widget", "mode")] == {"section": "widget", "key": "mode", "type": "string",
                                          "default": '"strict"', "plugin": "widget-settings",
                                          "help": "how"}
    assert by_key[("train", "learning_rate")]["default"] == "2e-4"
    assert len(rows) == sum(len(s.settings) for s in settings.sections().values())
    table = invoke("doctor", "--settings").stdout
    assert "learning_rate" in table and "widget-settings" in table
