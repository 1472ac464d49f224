"""The registry: what every loaded plugin adds, by name, and who added it.

Built once from the plugin manager by calling each plugin's registration
hooks one plugin at a time, so ``runner plugins`` can say which plugin adds
what and a name registered twice can be reported with both owners.

The registry sits below the CLI: it keeps commands as plain objects known by
their ``name``; what else a command is (:class:`runner.cli.api.Command`) is
the CLI's business.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from runner.balancers.api import LoadBalancer
from runner.errors import UserError
from runner.plugin.manager import PluginOrigin, create_plugin_manager, disabled_from_env
from runner.providers.api import Provider
from runner.resources.api import Resource
from runner.sources.api import AppSourceType
from runner.ssh.api import Transport, register_transports
from runner.strategies.api import Strategy

REGISTRATION_HOOKS = (
    "runner_resource_types", "runner_strategies", "runner_providers", "runner_load_balancers",
    "runner_app_sources", "runner_commands", "runner_executors", "runner_transports",
)


@dataclass
class PluginInfo:
    """One loaded plugin and what it adds (for ``runner plugins``)."""

    origin: PluginOrigin
    hooks: list[str] = field(default_factory=list)
    resource_types: list[str] = field(default_factory=list)
    strategies: list[str] = field(default_factory=list)
    providers: list[str] = field(default_factory=list)
    load_balancers: list[str] = field(default_factory=list)
    app_sources: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    executors: list[str] = field(default_factory=list)
    transports: list[str] = field(default_factory=list)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class Registry:
    """Everything the loaded plugins add, looked up by name."""

    def __init__(self, pm: pluggy.PluginManager, origins: dict[str, PluginOrigin]):
        self.pm = pm
        self.resource_types: dict[str, type[Resource]] = {}
        self.strategies: dict[str, type[Strategy]] = {}
        self.providers: dict[str, type[Provider]] = {}
        self.load_balancers: dict[str, type[LoadBalancer]] = {}
        self.app_sources: dict[str, type[AppSourceType]] = {}
        self.transports: dict[str, type[Transport]] = {}
        # what ``runner_commands`` returned, by ``.name``; only the CLI knows them as runner.cli.api.Command
        self.commands: dict[str, Any] = {}
        # what ``runner_executors`` returned, by URL ``.scheme``; only the engine knows them as Executor
        self.executors: dict[str, Any] = {}
        self.plugins: list[PluginInfo] = []
        owners: dict[tuple[str, str], str] = {}
        for name, origin in origins.items():  # load order: built-ins first, then entry points
            plugin = pm.get_plugin(name)
            info = PluginInfo(origin=origin)
            for caller in pm.get_hookcallers(plugin) or []:
                info.hooks.append(caller.name)
                if caller.name not in REGISTRATION_HOOKS:
                    continue
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin:
                        self._add(caller.name, impl.function() or [], info, owners)
            info.hooks.sort()
            self.plugins.append(info)
        register_transports(self.transports)  # the ssh layer cannot ask the registry: it gets the table

    @classmethod
    def load(cls, disabled: Iterable[str] | None = None) -> "Registry":
        """Load every plugin; ``disabled`` defaults to the names in $RUNNER_DISABLE_PLUGINS."""
        pm, origins = create_plugin_manager(disabled_from_env() if disabled is None else disabled)
        return cls(pm, origins)

    def _add(self, hook: str, items: list[Any], info: PluginInfo, owners: dict[tuple[str, str], str]) -> None:
        kind, table, names, attr = {
            "runner_resource_types": ("resource type", self.resource_types, info.resource_types, "type_name"),
            "runner_strategies": ("strategy", self.strategies, info.strategies, "name"),
            "runner_providers": ("provider", self.providers, info.providers, "name"),
            "runner_load_balancers": ("load balancer", self.load_balancers, info.load_balancers, "name"),
            "runner_app_sources": ("app source type", self.app_sources, info.app_sources, "name"),
            "runner_commands": ("command", self.commands, info.commands, "name"),
            "runner_executors": ("executor", self.executors, info.executors, "scheme"),
            "runner_transports": ("ssh transport", self.transports, info.transports, "name"),
        }[hook]
        for item in items:
            key = getattr(item, attr)
            if key in table:
                raise UserError(
                    f"{kind} {key!r} is added by both plugin {owners[(hook, key)]!r} "
                    f"and plugin {info.origin.name!r}",
                    hint=f"disable one of them with -p no:{info.origin.name}",
                )
            table[key] = item
            owners[(hook, key)] = info.origin.name
            names.append(key)

    def _lookup(self, kind: str, table: dict[str, Any], name: str) -> Any:
        try:
            return table[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(table), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(table)) or 'none'}"
            raise UserError(f"unknown {kind} {name!r}", hint=hint) from None

    def provider(self, name: str) -> type[Provider]:
        return self._lookup("provider", self.providers, name)

    def transport(self, name: str) -> type[Transport]:
        return self._lookup("ssh transport", self.transports, name)

    def strategy(self, name: str) -> type[Strategy]:
        return self._lookup("strategy", self.strategies, name)

    def load_balancer(self, name: str) -> type[LoadBalancer]:
        return self._lookup("load balancer", self.load_balancers, name)

    def executor(self, url: str) -> Any:
        """The executor class serving ``url``'s scheme (``dask`` for ``dask://HOST:PORT``; ``local``)."""
        scheme = url.split("://", 1)[0].strip().lower()
        if scheme not in self.executors:
            known = ", ".join(f"{s}://" if s != "local" else s for s in sorted(self.executors)) or "none"
            raise UserError(f"executor {url!r}: no executor serves {scheme!r} URLs",
                            hint=f"known: {known}; executor plugins (runner-dask ...) add more")
        return self.executors[scheme]

    def cookbook_dirs(self, distribution: str) -> list[Path] | None:
        """What ``runner_cookbooks`` returns from the plugins of an installed ``distribution``, in load order.

        None when no loaded plugin comes from that distribution (names compare as pip's do:
        case, ``-``, ``_`` and ``.`` aside).
        """
        wanted = _canonical(distribution)
        plugins = [info for info in self.plugins if _canonical(info.origin.distribution) == wanted]
        if not plugins:
            return None
        names = [info.origin.name for info in plugins]
        impls = {impl.plugin_name: impl for impl in self.pm.hook.runner_cookbooks.get_hookimpls()}
        return [Path(d) for name in names if name in impls for d in impls[name].function() or []]

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call a run hook; a plugin's exception becomes a warning, never a failed run."""
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            try:
                impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
            except Exception as exc:  # report handlers must not break runs
                print(f"runner: warning: plugin {impl.plugin_name!r} failed in {hook_name}: {exc}", file=sys.stderr)
