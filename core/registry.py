"""Collects what plugins register through the ``register_*`` hooks.

Each hook implementation is called on its own so that every capability is attributed to the
plugin that provided it, and a name claimed twice names both plugins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftp.errors import NotFound, PluginError
from ftp.plugin_manager import get_plugin_manager

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


def collect(kind: str) -> dict[str, Registered]:
    """Everything registered for ``kind`` (one of ``KINDS``), by name."""
    if kind not in KINDS:
        raise ValueError(f"unknown capability kind {kind!r}; known: {', '.join(KINDS)}")
    pm = get_plugin_manager()
    found: dict[str, Registered] = {}
    # pluggy lists implementations last-registered first; reverse so built-ins come first.
    for impl in reversed(getattr(pm.hook, f"register_{kind}").get_hookimpls()):
        impl.function(register=_registrar(found, impl.plugin_name, kind))
    return found


def _registrar(found: dict[str, Registered], plugin: str, kind: str):
    def register(name: str, obj: Any, *, description: str = "") -> None:
        if name in found:
            raise PluginError(
                f"{kind} {name!r} is registered by both {found[name].plugin} and {plugin}"
            )
        found[name] = Registered(name, obj, plugin, description)

    return register


def get(kind: str, name: str) -> Any:
    """The object registered as ``name``, or a NotFound listing the known names."""
    found = collect(kind)
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        label = kind.rstrip("s").replace("_", " ")
        raise NotFound(f"unknown {label} {name!r}; known: {known}")
    return found[name].obj
