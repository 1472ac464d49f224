"""What a CLI command is. Built-in commands and plugins' commands are the same kind of object."""

from __future__ import annotations

import abc
import argparse
from dataclasses import dataclass
from typing import IO, ClassVar

from runner.plugin.registry import Registry


@dataclass
class CommandContext:
    """What a command gets besides its arguments."""

    registry: Registry
    out: IO[str]
    err: IO[str]


class Command(abc.ABC):
    """A subcommand of ``runner``.

    :attr:`name` is the word on the command line; :attr:`help` its one-line
    summary in ``runner --help``. :meth:`run` returns the exit code: 0 when all
    went well, 1 when some host failed, 2 for bad input (or raise
    :class:`runner.errors.UserError`).
    """

    name: ClassVar[str]
    help: ClassVar[str] = ""
    stack_options: ClassVar[bool] = True  # -f/--file, --layer, --instance, --json, --format

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add this command's own arguments (none by default)."""

    @abc.abstractmethod
    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """Do the command's work; return the exit code."""
