"""``runner cookbooks [list]`` and ``runner cookbooks vendor DIR``: the stack's cookbooks, listed or copied.

Not ``update-cookbooks`` (which updates the checkouts the cookbooks come from): these only read them.
"""

from __future__ import annotations

import argparse

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.options import open_session
from runner.cli.render import print_cookbook_list, print_vendor
from runner.errors import UserError


class CookbooksCommand(Command):
    name = "cookbooks"
    help = "list the stack's cookbooks (version, source, revision, what depends on them), or vendor them to DIR"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", choices=("list", "vendor"), nargs="?", default="list")
        parser.add_argument("directory", nargs="?", metavar="DIR", help="vendor: the directory to copy them into")
        parser.add_argument("--force", action="store_true", help="vendor: replace the content of a non-empty DIR")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        if args.action == "vendor" and not args.directory:
            raise UserError("cookbooks vendor needs a directory", hint="runner cookbooks vendor DIR")
        if args.action == "list" and (args.directory or args.force):
            raise UserError("cookbooks list takes no directory and no --force", hint="runner cookbooks vendor DIR")
        with open_session(args, ctx) as session:
            if args.action == "vendor":
                print_vendor(ctx.out, session.vendor_cookbooks(args.directory, force=args.force), args.format)
            else:
                print_cookbook_list(ctx.out, session.cookbooks(), args.format)
        return 0


@hookimpl
def runner_commands() -> list[Command]:
    return [CookbooksCommand()]
