"""The plugin manager: built-ins, entry-point plugins, allow- and block-lists.

Built-in plugins are registered exactly as a third-party package's are; the list below is
the only place the core names a plugin module. A third-party plugin that fails to import or
implements an unknown hook is recorded in ``load_failures()`` and skipped, so ftp keeps
working; ``strict=True`` (``ftp --strict``) raises instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType

import pluggy

from ftp import hookspecs
from ftp.errors import PluginError

ENTRY_POINT_GROUP = "ftp"

DEFAULT_PLUGINS: tuple[str, ...] = (
    # ftp.toml's built-in sections, in the order the template lists them
    "ftp.plugins.project_sections",
    "ftp.plugins.models.sections",
    "ftp.plugins.data.sections",
    "ftp.plugins.training.sections",
    "ftp.plugins.evaluation.sections",
    "ftp.plugins.loop.sections",
    "ftp.privacy.sections",
    "ftp.plugins.project_commands",
    "ftp.plugins.plugin_commands",
    "ftp.plugins.doctor",
    "ftp.plugins.models.providers",
    "ftp.plugins.models.commands",
    "ftp.plugins.data.sources",
    "ftp.plugins.data.formats",
    "ftp.plugins.data.formatters",
    "ftp.plugins.data.generators",
    "ftp.plugins.data.commands",
    "ftp.plugins.training.methods",
    "ftp.plugins.training.commands",
    "ftp.privacy.detectors",
    "ftp.plugins.scrub.commands",
    "ftp.plugins.evaluation.plugin",
    "ftp.plugins.review.commands",
    "ftp.plugins.report.commands",
    "ftp.plugins.chat.commands",
    "ftp.plugins.generation.commands",
    "ftp.plugins.serving.commands",
    "ftp.plugins.audit.commands",
    "ftp.plugins.loop.commands",
    "ftp.plugins.loop.pipeline_state",
)


@dataclass
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    hooks: list[str] = field(default_factory=list)
    builtin: bool = False


@dataclass
class LoadFailure:
    name: str
    distribution: str | None
    error: str


class FtpPluginManager(pluggy.PluginManager):
    """pluggy's manager plus where each plugin came from and which failed to load."""

    def __init__(self) -> None:
        super().__init__(ENTRY_POINT_GROUP)
        self.failures: list[LoadFailure] = []
        self.origins: dict[str, tuple[str | None, str | None, bool]] = {}


class _State:
    pm: FtpPluginManager | None = None


def _env_list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    return [hc.name for hc in pm.get_hookcallers(plugin) or [] if not hc.has_spec()]


def _register(pm: FtpPluginManager, module: object, name: str, dist: str | None,
              version: str | None, builtin: bool, strict: bool) -> None:
    try:
        pm.register(module, name=name)
        unknown = _unknown_hooks(pm, module)
        if unknown:
            pm.unregister(module)
            raise PluginError(f"implements unknown hook(s) {', '.join(unknown)}")
    except Exception as error:  # a broken plugin must not break ftp
        _fail(pm, name, dist, error, strict)
        return
    pm.origins[name] = (dist, version, builtin)


def _fail(pm: FtpPluginManager, name: str, dist: str | None, error: Exception,
          strict: bool) -> None:
    failure = LoadFailure(name, dist, f"{type(error).__name__}: {error}")
    pm.failures.append(failure)
    if strict:
        raise PluginError(
            f"plugin {name!r} from {dist or 'unknown distribution'} failed to load: "
            f"{failure.error}",
            hint="uninstall it with `ftp uninstall`, or run without --strict to skip it",
        )


def _load_builtins(pm: FtpPluginManager, strict: bool) -> None:
    for module_name in DEFAULT_PLUGINS:
        if pm.is_blocked(module_name):
            continue
        module = importlib.import_module(module_name)
        _register(pm, module, module_name, "ftp", None, True, strict)


def _load_entry_points(pm: FtpPluginManager, strict: bool) -> None:
    allowed = _env_list("FTP_LOAD_PLUGINS")
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and entry_point.name not in allowed:
            continue
        if pm.is_blocked(entry_point.name) or pm.has_plugin(entry_point.name):
            continue
        dist = entry_point.dist
        dist_name, version = (dist.metadata["Name"], dist.version) if dist else (None, None)
        try:
            module: ModuleType = entry_point.load()
        except Exception as error:
            _fail(pm, entry_point.name, dist_name, error, strict)
            continue
        _register(pm, module, entry_point.name, dist_name, version, False, strict)


def build_plugin_manager(strict: bool = False) -> FtpPluginManager:
    """A fresh plugin manager with built-ins and entry-point plugins loaded."""
    pm = FtpPluginManager()
    pm.add_hookspecs(hookspecs)
    for blocked in _env_list("FTP_DISABLE_PLUGINS") or []:
        pm.set_blocked(blocked)
    _load_builtins(pm, strict)
    _load_entry_points(pm, strict)
    pm.check_pending()
    if tracing():
        pm.add_hookcall_monitoring(_trace_before, _trace_after)
    return pm


def tracing() -> bool:
    """``FTP_TRACE_PLUGINS=1``: print every hook call and the plugin that answered."""
    return os.environ.get("FTP_TRACE_PLUGINS", "") not in ("", "0")


def trace(hook: str, plugin: str, detail: str) -> None:
    """One trace line on stderr (only under ``FTP_TRACE_PLUGINS=1``)."""
    if tracing():
        print(f"ftp trace: {hook} -> {plugin}: {detail}", file=sys.stderr)


def _trace_before(hook_name: str, hook_impls: list[pluggy.HookImpl],
                  kwargs: dict[str, object]) -> None:
    # The register_* hooks of capabilities are called one plugin at a time by the registry,
    # which traces what each registered; everything else passes through here.
    for impl in hook_impls:
        trace(hook_name, impl.plugin_name, "called")


def _trace_after(outcome: object, hook_name: str, hook_impls: list[pluggy.HookImpl],
                 kwargs: dict[str, object]) -> None:
    return None


def get_plugin_manager(strict: bool = False) -> FtpPluginManager:
    """The process-wide plugin manager, built on first use."""
    if _State.pm is None:
        _State.pm = build_plugin_manager(strict=strict)
    return _State.pm


def reset_plugin_manager() -> None:
    """Forget the plugin manager (tests, or after `ftp install`)."""
    _State.pm = None


def load_failures() -> list[LoadFailure]:
    """Plugins the process-wide manager skipped, with the reason."""
    return list(get_plugin_manager().failures)


def _hook_names(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(hc.name for hc in pm.get_hookcallers(plugin) or [])


def list_plugins(include_builtins: bool = False) -> list[PluginInfo]:
    """Every registered plugin with its distribution, version and hooks."""
    pm = get_plugin_manager()
    infos = []
    for name, plugin in pm.list_name_plugin():
        dist, version, builtin = pm.origins.get(name, (None, None, False))
        if builtin and not include_builtins:
            continue
        if builtin:
            version = _ftp_version()
        infos.append(PluginInfo(name, dist, version, _hook_names(pm, plugin), builtin))
    return sorted(infos, key=lambda info: (info.builtin, info.name))


def _ftp_version() -> str:
    from ftp import __version__

    return __version__
