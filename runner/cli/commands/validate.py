"""``runner validate``: check a stack file, its cookbooks and recipes without touching a host."""

from __future__ import annotations

import argparse
import json

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.options import open_session
from runner.deploy.balancer import layers_without_instances
from runner.secrets.reveal import plaintext_secrets


class ValidateCommand(Command):
    name = "validate"
    help = "check stack.yml, its cookbooks and recipes; touches no host"

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        if not ctx.registry.strategies:  # all disabled: say so rather than call every strategy unknown
            ctx.err.write("runner: warning: no deployment strategy plugin is loaded; deploy.strategy is not checked\n")
        stack = open_session(args, ctx).stack
        for warning in [*layers_without_instances(stack), *plaintext_secrets(stack)]:
            ctx.err.write(f"runner: warning: {warning}\n")
        if args.format == "json":
            ctx.out.write(json.dumps({"stack": stack.name, "file": str(stack.path), "valid": True,
                                      "layers": len(stack.layers), "instances": len(stack.instances),
                                      "apps": len(stack.apps)}) + "\n")
        else:
            ctx.out.write(f"{args.file}: ok (stack {stack.name!r}: {len(stack.layers)} layers, "
                          f"{len(stack.instances)} instances, {len(stack.apps)} apps)\n")
        return 0


@hookimpl
def runner_commands() -> list[Command]:
    return [ValidateCommand()]
