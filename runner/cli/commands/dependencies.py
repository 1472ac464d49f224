"""``runner update-dependencies|install-dependencies``: OpsWorks' two package commands."""

from __future__ import annotations

import argparse

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.options import add_parallel, add_shard, open_session
from runner.cli.render import print_dependencies, print_lifecycle


class UpdateDependenciesCommand(Command):
    name = "update-dependencies"
    help = "upgrade the OS packages of the selected instances (apt-get, dnf or yum) and report what moved"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_parallel(parser)
        add_shard(parser)

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        with open_session(args, ctx) as session:
            report = session.update_dependencies(instances=args.instance, layers=args.layer)
        print_dependencies(ctx.out, report, args.format)
        return 0 if report.ok else 1


class InstallDependenciesCommand(Command):
    name = "install-dependencies"
    help = "install the layers' packages again, as setup does"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_parallel(parser)
        add_shard(parser)

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        with open_session(args, ctx) as session:
            report = session.install_dependencies(instances=args.instance, layers=args.layer)
        print_lifecycle(ctx.out, report, args.format)
        return 0 if report.ok else 1


@hookimpl
def runner_commands() -> list[Command]:
    return [UpdateDependenciesCommand(), InstallDependenciesCommand()]
