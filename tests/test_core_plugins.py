"""The plugin manager: built-ins, entry points, allow/block lists, broken plugins."""

from __future__ import annotations

import json
import os
from importlib import metadata

import pytest

import ftp
from ftp import plugin_manager
from ftp.errors import PluginError
from ftp.plugin_manager import build_plugin_manager, list_plugins
from ftp.registry import collect, get


class _Categorizer:
    @ftp.hookimpl
    def register_error_categorizers(self, register):
        register("too_polite", lambda sample: "please" in sample["output"],
                 description="says please")


def test_builtins_are_registered_like_third_party_plugins():
    names = {info.name for info in list_plugins(include_builtins=True)}
    assert set(plugin_manager.DEFAULT_PLUGINS) <= names
    builtin = [info for info in list_plugins(include_builtins=True) if info.builtin]
    assert all(info.distribution == "ftp" and info.hooks for info in builtin)


def test_hook_register_error_categorizers(register_plugin):
    register_plugin(_Categorizer(), name="polite")
    found = collect("error_categorizers")
    assert found["too_polite"].plugin == "polite"
    assert found["too_polite"].description == "says please"
    assert get("error_categorizers", "too_polite")({"output": "please help"})


def test_plugin_is_gone_after_the_test():
    assert "too_polite" not in collect("error_categorizers")


def test_a_name_registered_twice_names_both_plugins(register_plugin):
    register_plugin(_Categorizer(), name="first")
    register_plugin(_Categorizer(), name="second")
    found = collect("error_categorizers")
    assert "too_polite" not in found and sorted(found.conflicts["too_polite"]) == ["first", "second"]
    assert "repetitive" in found  # one clash leaves every other capability working
    with pytest.raises(PluginError, match="second and first|first and second"):
        get("error_categorizers", "too_polite")


def test_unknown_name_lists_the_known_ones(register_plugin):
    register_plugin(_Categorizer(), name="polite")
    with pytest.raises(ftp.errors.NotFound, match="known: .*too_polite"):
        get("error_categorizers", "nonexistent")


def _fake_entry_points(monkeypatch, *points: tuple[str, str]):
    eps = [metadata.EntryPoint(name, value, "ftp") for name, value in points]
    monkeypatch.setattr(plugin_manager.metadata, "entry_points",
                        lambda group: [ep for ep in eps if ep.group == group])


def test_a_plugin_that_fails_to_import_is_skipped_and_reported(monkeypatch):
    _fake_entry_points(monkeypatch, ("broken", "ftp_no_such_module_xyz"))
    pm = build_plugin_manager()
    assert not pm.has_plugin("broken")
    (failure,) = pm.failures
    assert failure.name == "broken" and "ModuleNotFoundError" in failure.error
    assert pm.has_plugin("ftp.plugins.project_commands")


def test_a_plugin_with_an_unknown_hook_is_skipped(monkeypatch, tmp_path):
    (tmp_path / "ftp_unknown_hook.py").write_text(
        "import ftp\n@ftp.hookimpl\ndef register_spaceships(register):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _fake_entry_points(monkeypatch, ("unknown", "ftp_unknown_hook"))
    pm = build_plugin_manager()
    assert not pm.has_plugin("unknown")
    assert "register_spaceships" in pm.failures[0].error


def test_strict_turns_a_broken_plugin_into_an_error(monkeypatch):
    _fake_entry_points(monkeypatch, ("broken", "ftp_no_such_module_xyz"))
    with pytest.raises(PluginError, match="plugin 'broken'.*failed to load"):
        build_plugin_manager(strict=True)


def test_load_plugins_allow_list_and_disable(monkeypatch):
    _fake_entry_points(monkeypatch, ("broken", "ftp_no_such_module_xyz"))
    monkeypatch.setenv("FTP_LOAD_PLUGINS", "")
    monkeypatch.setenv("FTP_DISABLE_PLUGINS", "ftp.plugins.doctor")
    pm = build_plugin_manager()
    assert pm.failures == []  # not on the allow-list: never imported
    assert not pm.has_plugin("ftp.plugins.doctor")
    assert pm.has_plugin("ftp.plugins.project_commands")


def _shouting_installed() -> bool:
    try:
        metadata.distribution("ftp-shouting")
    except metadata.PackageNotFoundError:
        return False
    return True


def test_third_party_package_is_found_through_its_entry_point(invoke):
    if not _shouting_installed():
        if os.environ.get("CI"):
            pytest.fail("tests/plugins/ftp-shouting must be pip-installed in CI")
        pytest.skip("pip install -e tests/plugins/ftp-shouting to run this test")
    result = invoke("plugins", "--json")
    (info,) = [p for p in json.loads(result.output) if p["name"] == "shouting"]
    assert info["distribution"] == "ftp-shouting" and info["version"] == "0.2.0"
    assert info["hooks"] == ["register_commands", "register_error_categorizers"]
    assert collect("error_categorizers")["shouting"].plugin == "shouting"
    assert invoke("shouting-check", "STOP SHOUTING AT ME").output.strip() == "shouting"
