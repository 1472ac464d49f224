"""The pluggy plugin manager: built-in plugins first, then the ``runner`` entry points.

Built-in plugins are plain hookimpl modules listed in :data:`BUILTIN_PLUGINS`
and registered exactly like third-party ones. A plugin is blocked by name with
``RUNNER_DISABLE_PLUGINS=a,b`` or ``-p no:a``; the few in
:data:`ESSENTIAL_PLUGINS` refuse to be blocked.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import os
from collections.abc import Iterable
from dataclasses import dataclass

import pluggy

from runner import __version__, hookspecs
from runner.errors import UserError

ENTRY_POINT_GROUP = "runner"
DISABLE_ENV = "RUNNER_DISABLE_PLUGINS"
CORE_DISTRIBUTION = "opsrunner"

#: (plugin name, module) of every built-in plugin, in load order.
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("resources", "runner.resources.builtin.plugin"),
    ("static", "runner.providers.static"),
    ("transports", "runner.ssh.builtin"),
    ("haproxy", "runner.balancers.haproxy"),
    ("validate", "runner.cli.commands.validate"),
    ("plugins", "runner.cli.commands.plugins"),
    ("instances", "runner.cli.commands.instances"),
    ("converge", "runner.cli.commands.converge"),
    ("strategies", "runner.strategies.builtin"),
    ("sources", "runner.sources.plugin"),
    ("deploy", "runner.cli.commands.deploy"),
    ("status", "runner.cli.commands.status"),
    ("update-cookbooks", "runner.cli.commands.update_cookbooks"),
    ("cookbooks", "runner.cli.commands.cookbooks"),
    ("dependencies", "runner.cli.commands.dependencies"),
    ("watch", "runner.cli.commands.watch"),
    ("secrets", "runner.cli.commands.secrets"),
    ("import", "runner.cli.commands.import_"),
    ("local-executor", "runner.engine.local"),
)

#: Built-in plugins that cannot be blocked: without them nobody could see what is loaded.
ESSENTIAL_PLUGINS: frozenset[str] = frozenset({"plugins"})


@dataclass(frozen=True)
class PluginOrigin:
    """Where a loaded plugin came from."""

    name: str
    distribution: str
    version: str
    module: str
    builtin: bool


def disabled_from_env(environ: dict[str, str] | None = None) -> list[str]:
    value = (environ if environ is not None else os.environ).get(DISABLE_ENV, "")
    return [n.strip() for n in value.split(",") if n.strip()]


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _check_blockable(disabled: Iterable[str], entry_points: list[importlib.metadata.EntryPoint]) -> None:
    known = [n for n, _ in BUILTIN_PLUGINS] + [ep.name for ep in entry_points]
    for name in disabled:
        if name in ESSENTIAL_PLUGINS:
            raise UserError(f"plugin {name!r} is essential and cannot be disabled")
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see `runner plugins` for the names"
            raise UserError(f"cannot disable plugin {name!r}: no plugin has that name", hint=hint)


def create_plugin_manager(disabled: Iterable[str] = ()) -> tuple[pluggy.PluginManager, dict[str, PluginOrigin]]:
    """Build the plugin manager with every plugin not in ``disabled`` registered.

    Returns the manager and, for each registered plugin name, where it came from.
    Raises :class:`UserError` for a plugin that cannot be loaded or that
    implements a hook with no spec (a typo in a hook name).
    """
    disabled = list(disabled)
    entry_points = _entry_points()
    _check_blockable(disabled, entry_points)

    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)

    origins: dict[str, PluginOrigin] = {}
    for name, module_name in BUILTIN_PLUGINS:
        if pm.is_blocked(name):
            continue
        pm.register(importlib.import_module(module_name), name=name)
        origins[name] = PluginOrigin(name, CORE_DISTRIBUTION, __version__, module_name, builtin=True)

    for ep in entry_points:
        if pm.is_blocked(ep.name):
            continue
        dist = ep.dist
        dist_name = dist.metadata["Name"] if dist is not None else "?"
        if ep.name in origins:
            raise UserError(
                f"plugin name {ep.name!r} of distribution {dist_name} is already taken "
                f"by {origins[ep.name].distribution}",
                hint="rename the entry point in the plugin's setup.cfg",
            )
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party package must not look like our bug
            raise UserError(
                f"plugin {ep.name!r} from {dist_name} failed to load: {type(exc).__name__}: {exc}",
                hint=f"fix or uninstall {dist_name}, or disable it with -p no:{ep.name}",
            ) from exc
        pm.register(plugin, name=ep.name)
        origins[ep.name] = PluginOrigin(
            ep.name, dist_name, dist.version if dist is not None else "?", ep.value, builtin=False
        )

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise UserError(_unknown_hook_message(pm, exc)) from exc
    return pm, origins


def _unknown_hook_message(pm: pluggy.PluginManager, exc: pluggy.PluginValidationError) -> str:
    specs = [n for n in dir(hookspecs) if n.startswith("runner_")]
    name = pm.get_name(exc.plugin) or repr(exc.plugin)
    for attr in dir(exc.plugin):
        if attr.startswith("runner_") and attr not in specs:
            close = difflib.get_close_matches(attr, specs, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"plugin {name!r} implements unknown hook {attr!r}{hint}"
    return f"plugin {name!r} is invalid: {exc}"
