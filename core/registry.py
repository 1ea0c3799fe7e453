"""Collects what plugins register through the ``register_*`` hooks.

Each hook implementation is called on its own so that every capability is attributed to the
plugin that provided it. A name claimed by two plugins is an error naming both, raised when
that name is used (``get``), so one clash never breaks every other capability; ``ftp
doctor`` lists clashes. ``FTP_TRACE_PLUGINS=1`` prints each call and what each plugin
registered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ftp.errors import NotFound, PluginError
from ftp.plugin_manager import get_plugin_manager, trace

KINDS = (
    "data_sources",
    "record_formats",
    "formatters",
    "generators",
    "trainers",
    "evaluators",
    "error_categorizers",
    "model_providers",
    "pii_detectors",
)


@dataclass(frozen=True)
class Registered:
    name: str
    obj: Any
    plugin: str
    description: str = ""
    suffixes: tuple[str, ...] = ()  # data sources: the file suffixes the reader handles


class Found(dict[str, Registered]):
    """Registered capabilities by name; ``conflicts`` maps a clashing name to its plugins."""

    def __init__(self) -> None:
        super().__init__()
        self.conflicts: dict[str, list[str]] = {}

    def conflict_error(self, kind: str, name: str) -> PluginError:
        plugins = " and ".join(self.conflicts[name])
        return PluginError(f"{_label(kind)} {name!r} is registered by both {plugins}",
                           hint="uninstall or disable one of them (FTP_DISABLE_PLUGINS)")


def collect(kind: str) -> Found:
    """Everything registered for ``kind`` (one of ``KINDS``), by name (clashes left out)."""
    if kind not in KINDS:
        raise ValueError(f"unknown capability kind {kind!r}; known: {', '.join(KINDS)}")
    pm = get_plugin_manager()
    found = Found()
    # get_hookimpls() lists implementations in registration order: built-ins come first.
    for impl in getattr(pm.hook, f"register_{kind}").get_hookimpls():
        names: list[str] = []
        impl.function(register=_registrar(found, impl.plugin_name, names))
        trace(f"register_{kind}", impl.plugin_name, ", ".join(names) or "nothing")
    for name in found.conflicts:
        found.pop(name, None)
    return found


def _registrar(found: Found, plugin: str, names: list[str]) -> Callable[..., None]:
    def register(name: str, obj: Any, *, description: str = "",
                 suffixes: Sequence[str] = ()) -> None:
        names.append(name)
        if name in found.conflicts:
            found.conflicts[name].append(plugin)
            return
        if name in found:
            found.conflicts[name] = [found[name].plugin, plugin]
            return
        found[name] = Registered(name, obj, plugin, description,
                                 tuple(s.lower() for s in suffixes))

    return register


def _label(kind: str) -> str:
    return kind.rstrip("s").replace("_", " ")


def get(kind: str, name: str) -> Any:
    """The object registered as ``name``, or a NotFound listing the known names; a name two
    plugins registered is a PluginError naming both."""
    found = collect(kind)
    if name in found.conflicts:
        raise found.conflict_error(kind, name)
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise NotFound(f"unknown {_label(kind)} {name!r}; known: {known}")
    return found[name].obj
