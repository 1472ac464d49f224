"""``runner converge|setup|configure|execute-recipes|plan``: bring hosts to what the recipes declare."""

from __future__ import annotations

import argparse
from typing import Any, ClassVar

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.options import add_parallel, add_shard, command_json, open_session
from runner.cli.render import print_lifecycle


class RecipeRunCommand(Command):
    """A command that runs recipes on the selected instances: one call of the Session method :attr:`method`."""

    method: ClassVar[str]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_parallel(parser)
        add_shard(parser)
        parser.add_argument("--executor", default=None, metavar="URL",
                            help="where each host's work runs: local (threads here, the default) or an executor "
                                 "plugin's URL, e.g. dask://HOST:PORT (runner-dask); see docs/executors.md")

    def positional(self, args: argparse.Namespace) -> tuple[Any, ...]:
        """The method's arguments before the selection (none by default)."""
        return ()

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        with open_session(args, ctx) as session:
            report = getattr(session, self.method)(*self.positional(args), instances=args.instance,
                                                   layers=args.layer, custom_json=command_json(args))
        print_lifecycle(ctx.out, report, args.format)
        return 0 if report.ok else 1


class ConvergeCommand(RecipeRunCommand):
    name = method = "converge"
    help = "set up instances never set up, then configure every instance"


class SetupCommand(RecipeRunCommand):
    name = method = "setup"
    help = "run the setup event: layer packages, setup recipes, then a deploy of the layers' apps"


class ConfigureCommand(RecipeRunCommand):
    name = method = "configure"
    help = "run the configure event on every instance (recipes see the current topology)"


class ExecuteRecipesCommand(RecipeRunCommand):
    name, method = "execute-recipes", "execute_recipes"
    help = "run just the named recipes (cookbook::recipe ...)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("recipe", nargs="+", help="cookbook or cookbook::recipe")

    def positional(self, args: argparse.Namespace) -> tuple[Any, ...]:
        return (args.recipe,)


class PlanCommand(RecipeRunCommand):
    name = method = "plan"
    help = "show what converge (or --event) would change, with diffs; touches nothing"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--event", choices=("converge", "setup", "configure"), default="converge",
                            help="what to plan (default: converge)")

    def positional(self, args: argparse.Namespace) -> tuple[Any, ...]:
        return (args.event,)


@hookimpl
def runner_commands() -> list[Command]:
    return [ConvergeCommand(), SetupCommand(), ConfigureCommand(), ExecuteRecipesCommand(), PlanCommand()]
