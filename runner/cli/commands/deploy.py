"""``runner deploy|rollback|undeploy|history APP``: releases of an app on the hosts of its layers."""

from __future__ import annotations

import argparse

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.options import add_parallel, add_shard, command_json, open_session
from runner.cli.render import print_deploy, print_history


class AppCommand(Command):
    """The app argument and --parallel, shared by every app command."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("app", help="the app's name in stack.yml")
        add_parallel(parser)
        add_shard(parser)


class DeployCommand(AppCommand):
    name = "deploy"
    help = "deploy an app to the instances of its layers, with its strategy"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--strategy", help="override deploy.strategy (all_at_once, rolling, blue_green, ...)")
        parser.add_argument("--batch", help="override deploy.batch: a count or a percentage such as 30%%")
        parser.add_argument("--max-failures", type=int, default=None, help="override deploy.max_failures")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        with open_session(args, ctx) as session:
            method = session.deploy if self.name == "deploy" else session.rollback
            report = method(args.app, strategy=args.strategy, batch=args.batch, max_failures=args.max_failures,
                            instances=args.instance, layers=args.layer, custom_json=command_json(args))
        print_deploy(ctx.out, report, args.format)
        return 0 if report.ok else 1


class RollbackCommand(DeployCommand):
    name = "rollback"
    help = "go back one release on the app's instances (blue_green: switch back to the idle colour)"


class UndeployCommand(AppCommand):
    name = "undeploy"
    help = "run the undeploy recipes and remove /srv/<app> from the app's instances"

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        with open_session(args, ctx) as session:
            report = session.undeploy(args.app, instances=args.instance, layers=args.layer,
                                      custom_json=command_json(args))
        print_deploy(ctx.out, report, args.format)
        return 0 if report.ok else 1


class HistoryCommand(AppCommand):
    name = "history"
    help = "the app's deployments, rollbacks and undeploys, merged from every host's deployments.log"

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        with open_session(args, ctx) as session:
            report = session.history(args.app, instances=args.instance, layers=args.layer)
        print_history(ctx.out, ctx.err, report, args.format)
        return 0 if report.ok else 1


@hookimpl
def runner_commands() -> list[Command]:
    return [DeployCommand(), RollbackCommand(), UndeployCommand(), HistoryCommand()]
