"""``runner plugins``: every loaded plugin, where it comes from and what it adds."""

from __future__ import annotations

import argparse
import json

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.render import print_table
from runner.plugin.registry import REGISTRATION_HOOKS


class PluginsCommand(Command):
    name = "plugins"
    help = "list the loaded plugins and what each adds"
    stack_options = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        plugins = ctx.registry.plugins
        if args.format == "json":
            data = [{"name": p.origin.name, "distribution": p.origin.distribution, "version": p.origin.version,
                     "module": p.origin.module, "builtin": p.origin.builtin, "hooks": p.hooks,
                     "resource_types": p.resource_types, "strategies": p.strategies,
                     "providers": p.providers, "load_balancers": p.load_balancers,
                     "app_sources": p.app_sources, "commands": p.commands, "executors": p.executors,
                     "transports": p.transports}
                    for p in plugins]
            ctx.out.write(json.dumps(data, indent=2) + "\n")
            return 0
        rows = []
        for p in plugins:
            adds = [f"{label}: {', '.join(items)}" for label, items in (
                ("resource types", p.resource_types), ("strategies", p.strategies),
                ("providers", p.providers), ("load balancers", p.load_balancers),
                ("app sources", p.app_sources), ("commands", p.commands), ("executors", p.executors),
                ("ssh transports", p.transports)) if items]
            others = [h for h in p.hooks if h not in REGISTRATION_HOOKS]
            if others:
                adds.append("hooks: " + ", ".join(others))
            rows.append((p.origin.name, f"{p.origin.distribution} {p.origin.version}", "; ".join(adds) or "-"))
        print_table(ctx.out, ("PLUGIN", "DISTRIBUTION", "ADDS"), rows)
        return 0


@hookimpl
def runner_commands() -> list[Command]:
    return [PluginsCommand()]
