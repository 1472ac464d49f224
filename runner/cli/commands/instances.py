"""``runner instances list|start|stop|destroy``: the stack's instances through its provider.

As in OpsWorks, instances entering or leaving service run lifecycle events:
after ``start``, a converge (setup on the instances never set up, then
configure on every online instance, so e.g. a load balancer learns its new
backends); before ``stop``/``destroy``, the stopping instances' shutdown
recipes (bounded by their layers' ``shutdown_timeout``), and after it a
configure on the instances still online. ``--no-lifecycle`` skips them.
The events' reports go to stderr; stdout keeps the instance table.
"""

from __future__ import annotations

import argparse
import json

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.commands.converge import run_event
from runner.cli.options import load_stack, select_instances
from runner.cli.table import print_table
from runner.engine.run import DEFAULT_PARALLEL
from runner.providers.api import HostAddress


class InstancesCommand(Command):
    name = "instances"
    help = "list, start, stop or destroy the stack's instances through its provider"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", choices=("list", "start", "stop", "destroy"), nargs="?", default="list")
        parser.add_argument("--no-lifecycle", action="store_true",
                            help="start/stop/destroy only: no setup/configure after, no shutdown recipes before")
        parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, metavar="N",
                            help=f"hosts at a time for the lifecycle events (default {DEFAULT_PARALLEL})")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        stack = load_stack(args, ctx.registry)
        provider = ctx.registry.provider(stack.provider)(stack)
        names = select_instances(stack, args.layer, args.instance)
        events = args.action != "list" and not args.no_lifecycle
        code = 0

        def event(name: str, hosts: list[str]) -> None:
            nonlocal code
            if hosts:
                ctx.err.write(f"runner: {name} on {', '.join(hosts)}\n")
                code = max(code, run_event(ctx, stack, name, hosts, verbose=args.verbose, parallel=args.parallel,
                                           report=ctx.err))

        def online() -> list[str]:
            return [s.name for s in provider.status(list(stack.instances)) if s.online]

        if events and args.action in ("stop", "destroy"):
            event("shutdown", [n for n in online() if n in names])
        if args.action == "destroy":
            provider.destroy(names)
            states = provider.status(names)
        else:
            action = {"list": provider.status, "start": provider.start, "stop": provider.stop}[args.action]
            states = action(names)
        if events:
            event("converge" if args.action == "start" else "configure", online())
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
        return code


def _ports(host: HostAddress | None) -> str:
    """``80->127.0.0.1:32769`` for each published service port; ``-`` when none."""
    if host is None or not host.ports:
        return "-"
    return ",".join(f"{inner}->{host.address}:{outer}" for inner, outer in sorted(host.ports.items()))


@hookimpl
def runner_commands() -> list[Command]:
    return [InstancesCommand()]
