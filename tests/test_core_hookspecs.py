"""Every hook is documented and has a test of its own (datasette's rule)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from ftp import hookspecs

TESTS = Path(__file__).parent


def _hooks() -> list[str]:
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(fn, "ftp_spec")]


def test_there_are_hooks_for_every_capability():
    expected = {"register_commands", "register_data_sources", "register_record_formats",
                "register_formatters", "register_generators", "register_trainers",
                "register_evaluators", "register_error_categorizers",
                "register_model_providers", "register_pii_detectors", "ftp_run_started",
                "ftp_run_finished", "ftp_gate_decided"}
    assert expected <= set(_hooks())


def test_every_hook_is_documented():
    undocumented = [name for name in _hooks()
                    if len((getattr(hookspecs, name).__doc__ or "").strip()) < 40]
    assert undocumented == []


def test_every_hook_has_a_test_of_its_own():
    source = "\n".join(path.read_text() for path in TESTS.glob("test_*.py"))
    tested = set(re.findall(r"def (test_hook_\w+)", source))
    missing = [name for name in _hooks()
               if not any(t.startswith("test_hook_") and name in t
                          for t in tested)]
    assert missing == [], f"hooks without a test_hook_<name> test: {missing}"


def test_every_hook_is_in_the_plugin_guide():
    guide = (TESTS.parent / "docs" / "plugins.md").read_text()
    missing = [name for name in _hooks() if f"`{name}`" not in guide]
    assert missing == [], f"hooks docs/plugins.md does not explain: {missing}"


def test_every_hook_is_exercised_through_the_example_plugin():
    """The guide's plugin implements every hook and test_plugin_acme has a test for each."""
    import ftp_acme

    source = (TESTS / "test_plugin_acme.py").read_text()
    tests = re.findall(r"def (test_acme_\w+)", source)
    unimplemented = [name for name in _hooks() if not hasattr(ftp_acme, name)]
    untested = [name for name in _hooks() if not any(name in t for t in tests)]
    assert unimplemented == [] and untested == [], (unimplemented, untested)
