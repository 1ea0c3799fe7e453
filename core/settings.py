"""``ftp.toml`` sections as plugins declare them (``register_settings``), and what is built
from the declarations: the defaults, the annotated template ``ftp init`` writes, validation
(unknown section or key, wrong type, out of range, not one of the choices, a section's own
cross-key check) and the listing ``ftp doctor`` prints.

Built-in sections ([project], [model], [data], [train], [eval], [privacy]...) are declared
by the built-in plugins through the same hook a third-party plugin uses.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ftp.api import Section, SectionCheck, Setting
from ftp.errors import ConfigError, PluginError
from ftp.plugin_manager import get_plugin_manager, trace

HEADER = """\
# ftp project configuration. Every key is optional; the values shown are the defaults.
# Run `ftp doctor` to check this file, and `ftp --help` for the commands that read it.
"""
TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean (true/false)",
              list: "list", dict: "table"}


def sections() -> dict[str, Section]:
    """Every declared section by name, in declaration order (built-ins first)."""
    found: dict[str, Section] = {}
    hook = get_plugin_manager().hook.register_settings
    for impl in hook.get_hookimpls():  # in registration order: built-ins first
        names: list[str] = []
        impl.function(register=_registrar(found, impl.plugin_name, names))
        trace("register_settings", impl.plugin_name, ", ".join(names) or "nothing")
    return found


def _registrar(found: dict[str, Section], plugin: str, names: list[str]) -> Any:
    def register(section: str, settings: Sequence[Setting], *,
                 check: SectionCheck | None = None, help: str = "") -> None:
        if section in found:
            raise PluginError(f"ftp.toml section [{section}] is declared by both "
                              f"{found[section].plugin} and {plugin}")
        keys = [setting.key for setting in settings]
        if len(set(keys)) != len(keys):
            raise PluginError(f"plugin {plugin} declares a key of [{section}] twice")
        names.append(section)
        found[section] = Section(section, tuple(settings), check, help, plugin)

    return register


def defaults(declared: dict[str, Section] | None = None) -> dict[str, dict[str, Any]]:
    """Every section's keys with their default values."""
    declared = sections() if declared is None else declared
    return {name: {s.key: _copy(s.default) for s in section.settings}
            for name, section in declared.items()}


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value)) if isinstance(value, (list, dict)) else value


# validation ---------------------------------------------------------------------------


def validate(data: dict[str, Any], path: Path | str = "ftp.toml") -> dict[str, Any]:
    """Merge ``data`` over the defaults; raise ConfigError naming the file and key."""
    declared = sections()
    merged = defaults(declared)
    for name, values in data.items():
        if name not in declared:
            raise ConfigError(f"{path}: unknown section [{name}]; allowed: "
                              f"{', '.join(declared)}",
                              hint="a plugin's section is known once the plugin is installed")
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{name}] must be a table")
        known = {s.key: s for s in declared[name].settings}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown key {name}.{key}; allowed in [{name}]: "
                                  f"{', '.join(known)}")
            check_value(known[key], f"{name}.{key}", value, path)
            merged[name][key] = value
    for name, section in declared.items():
        if section.check is not None:
            section.check(merged[name], str(path))
    return merged


def check_value(setting: Setting, label: str, value: Any, path: Path | str) -> None:
    """Type, choices and range of one value; ConfigError naming ``label`` otherwise."""
    if not _type_ok(setting.type, value):
        raise ConfigError(f"{path}: {label} must be a {TYPE_NAMES.get(setting.type, 'value')}"
                          f", got {_shown(value)}", hint=setting.help or None)
    if setting.choices is not None and value not in setting.choices:
        raise ConfigError(f"{path}: {label} must be one of "
                          f"{', '.join(map(repr, setting.choices))}, got {_shown(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = setting.minimum, setting.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(f"{path}: {label} must be {_bounds(low, high)}, got {value!r}")


def _type_ok(kind: type, value: Any) -> bool:
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float))
    if kind is list:
        return isinstance(value, (list, str))  # "testset" for ["testset"]
    return isinstance(value, kind)


def _bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


def _shown(value: Any) -> str:
    """A wrong value, shortened: ftp.toml holds settings, not records, but keep it short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# the template ----------------------------------------------------------------------------


def template_text(name: str = "my-project") -> str:
    """The annotated ``ftp.toml`` that ``ftp init`` writes: every key at its default."""
    parts = [HEADER]
    for section in sections().values():
        lines = [f"[{section.name}]"]
        lines += _comment(section.help)
        for setting in section.settings:
            lines += _comment(setting.comment)
            value = setting.default
            if section.name == "project" and setting.key == "name":
                value = name
            lines.append(_wrapped(f"{setting.key} = ", value))
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _comment(text: str, width: int = 100) -> list[str]:
    """``# `` lines of ``text``: its own line breaks kept, a long line wrapped."""
    lines: list[str] = []
    for line in text.splitlines():
        lines += [f"# {part}" for part in textwrap.wrap(line, width - 2)] or ["#"]
    return lines


def _wrapped(prefix: str, value: Any, width: int = 92) -> str:
    """``key = value``; a long list continues on lines indented under its first item."""
    line = prefix + toml_value(value)
    if len(line) <= width or not isinstance(value, list):
        return line
    lines, current = [], prefix + "["
    for position, item in enumerate(value):
        piece = toml_value(item) + ("," if position < len(value) - 1 else "]")
        if len(current) + len(piece) + 1 > width and current.strip() not in ("", "["):
            lines.append(current.rstrip())
            current = " " * (len(prefix) + 1)
        current += piece + " "
    return "\n".join([*lines, current.rstrip()])


def _number(value: float) -> str:
    if isinstance(value, float) and 0 < abs(value) < 1e-3:
        mantissa, exponent = f"{value:e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"  # 2e-4, not 0.0002
    return repr(value)


def toml_value(value: Any) -> str:
    """``value`` written as TOML (the subset settings use)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to ftp.toml")


def describe() -> list[dict[str, Any]]:
    """One row per declared key (``ftp doctor --settings``): section, key, type, default,
    the plugin that declared it and its help."""
    return [{"section": section.name, "key": s.key, "type": TYPE_NAMES.get(s.type, "value"),
             "default": toml_value(s.default), "plugin": section.plugin, "help": s.help}
            for section in sections().values() for s in section.settings]
