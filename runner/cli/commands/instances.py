"""``runner instances list|start|stop|destroy``: the stack's instances through its provider.

Start ends with a converge; stop and destroy run the shutdown recipes first
and configure the instances still online after (``--no-lifecycle``: neither).
The lifecycle runs' summaries go to stderr; stdout keeps the instance table.
"""

from __future__ import annotations

import argparse

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.options import add_parallel, add_shard, open_session
from runner.cli.render import print_instances


class InstancesCommand(Command):
    name = "instances"
    help = "list, start, stop or destroy the stack's instances through its provider"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", choices=("list", "start", "stop", "destroy"), nargs="?", default="list")
        parser.add_argument("--no-lifecycle", action="store_true",
                            help="start/stop/destroy only: no setup/configure after, no shutdown recipes before")
        add_parallel(parser, "hosts at a time for the lifecycle events")
        add_shard(parser)

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        with open_session(args, ctx) as session:
            selection = {"instances": args.instance, "layers": args.layer}
            if args.action == "list":
                report = session.instances_list(**selection)
            else:
                method = getattr(session, f"instances_{args.action}")
                report = method(**selection, lifecycle=not args.no_lifecycle)
        print_instances(ctx.out, ctx.err, report, args.format)
        return 0 if report.ok else 1


@hookimpl
def runner_commands() -> list[Command]:
    return [InstancesCommand()]
