"""The plugin module of runner-docker (entry point ``docker`` in group ``runner``).

Adds the ``docker`` provider and the ``runner docker-image`` command.
"""

from __future__ import annotations

import argparse

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.providers.api import Provider
from runner_docker.image import ensure_image
from runner_docker.provider import DockerProvider


class DockerImageCommand(Command):
    name = "docker-image"
    help = "build the Debian host image (cached)"
    stack_options = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="build it again even when it exists")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        tag = ensure_image(rebuild=args.rebuild, progress=lambda line: print(line, file=ctx.err))
        print(tag, file=ctx.out)
        return 0


@hookimpl
def runner_providers() -> list[type[Provider]]:
    return [DockerProvider]


@hookimpl
def runner_commands() -> list[Command]:
    return [DockerImageCommand()]
