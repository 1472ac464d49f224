"""``runner update-cookbooks``: OpsWorks' update_custom_cookbooks, on the laptop (see runner.cookbooks.update)."""

from __future__ import annotations

import argparse

from runner import hookimpl
from runner.api.session import update_cookbooks
from runner.cli.api import Command, CommandContext
from runner.cli.render import print_cookbooks


class UpdateCookbooksCommand(Command):
    name = "update-cookbooks"
    help = "fetch the stack's cookbook sources again and rewrite cookbooks.lock (and git pull cookbook paths)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME",
                            help="only these cookbooks' lock entries (default: every source, and git pull of paths)")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        report = update_cookbooks(args.file, ctx.registry, args.names)
        print_cookbooks(ctx.out, report, args.format)
        return 0 if report.ok else 1


@hookimpl
def runner_commands() -> list[Command]:
    return [UpdateCookbooksCommand()]
