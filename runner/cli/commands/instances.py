"""``runner instances list|start|stop``: the stack's instances as its provider sees them."""

from __future__ import annotations

import argparse
import json

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.options import load_stack, select_instances
from runner.cli.table import print_table
from runner.providers.api import HostAddress


class InstancesCommand(Command):
    name = "instances"
    help = "list, start, stop or destroy the stack's instances through its provider"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", choices=("list", "start", "stop", "destroy"), nargs="?", default="list")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        stack = load_stack(args, ctx.registry)
        provider = ctx.registry.provider(stack.provider)(stack)
        names = select_instances(stack, args.layer, args.instance)
        if args.action == "destroy":
            provider.destroy(names)
            states = provider.status(names)
        else:
            action = {"list": provider.status, "start": provider.start, "stop": provider.stop}[args.action]
            states = action(names)
        if args.format == "json":
            ctx.out.write(json.dumps([{
                "instance": s.name, "status": s.status,
                "hostname": stack.instances[s.name].hostname,
                "layers": list(stack.instances[s.name].layers),
                "address": s.host.address if s.host else None,
                "port": s.host.port if s.host else None,
                "ports": {str(k): v for k, v in s.host.ports.items()} if s.host else {},
                **({"details": s.details} if s.details else {}),
            } for s in states], indent=2) + "\n")
        else:
            print_table(ctx.out, ("INSTANCE", "HOSTNAME", "LAYERS", "STATUS", "ADDRESS", "PORTS"), [
                (s.name, stack.instances[s.name].hostname, ",".join(stack.instances[s.name].layers), s.status,
                 f"{s.host.address}:{s.host.port}" if s.host else "-", _ports(s.host)) for s in states])
        return 0


def _ports(host: HostAddress | None) -> str:
    """``80->127.0.0.1:32769`` for each published service port; ``-`` when none."""
    if host is None or not host.ports:
        return "-"
    return ",".join(f"{inner}->{host.address}:{outer}" for inner, outer in sorted(host.ports.items()))


@hookimpl
def runner_commands() -> list[Command]:
    return [InstancesCommand()]
