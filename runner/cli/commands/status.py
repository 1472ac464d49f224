"""``runner status``: each instance as its provider sees it, whether it was set up, and what each app runs."""

from __future__ import annotations

import argparse

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.options import add_parallel, add_shard, open_session
from runner.cli.render import print_status


class StatusCommand(Command):
    name = "status"
    help = "each instance's state, whether it was set up, and the release each app runs"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_parallel(parser)
        add_shard(parser)

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        with open_session(args, ctx) as session:
            report = session.status(instances=args.instance, layers=args.layer)
        print_status(ctx.out, ctx.err, report, args.format)
        return 0 if report.ok else 1


@hookimpl
def runner_commands() -> list[Command]:
    return [StatusCommand()]
