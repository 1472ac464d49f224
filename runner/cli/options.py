"""Options every stack command takes, and turning them into a session."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from runner.api import Session
from runner.cli.api import CommandContext
from runner.cli.render import LivePrinter
from runner.errors import UserError
from runner.model.shard import Shard
from runner.ssh.group import DEFAULT_PARALLEL


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: `runner -f x.yml converge` and `runner converge -f x.yml` both work
    parser.add_argument("-f", "--file", default=argparse.SUPPRESS, help="the stack file (default: ./stack.yml)")
    parser.add_argument("--layer", action="append", default=[], help="only instances of this layer (repeatable)")
    parser.add_argument("--instance", action="append", default=[], help="only this instance (repeatable)")
    parser.add_argument("--json", dest="json_attrs", default=None, metavar="JSON",
                        help="extra attributes as a JSON object, or @FILE (highest precedence)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def open_session(args: argparse.Namespace, ctx: CommandContext) -> Session:
    """The session for a stack command: the stack named by -f, loaded and validated; live lines on stderr."""
    shard = getattr(args, "shard", None)
    return Session.open(args.file, registry=ctx.registry, on_event=LivePrinter(ctx.err),
                        parallel=getattr(args, "parallel", DEFAULT_PARALLEL), verbose=args.verbose,
                        shard=None if shard is None else Shard.parse(shard),
                        executor=getattr(args, "executor", None))


def add_shard(parser: argparse.ArgumentParser) -> None:
    """``--shard I/N`` on a command that runs on hosts (parsed by :meth:`Shard.parse` when the session
    opens, so a bad value is a UserError with a hint)."""
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="only the selected instances in shard I of N (I from 0 to N-1, e.g. "
                             "$JOB_COMPLETION_INDEX/N): a split by a hash of the names, so N runs cover them once")


def add_parallel(parser: argparse.ArgumentParser, what: str = "hosts at a time") -> None:
    parser.add_argument("--parallel", type=count, default=DEFAULT_PARALLEL, metavar="N",
                        help=f"{what} (default {DEFAULT_PARALLEL})")


def count(text: str) -> int:
    """``--parallel N``, ``--max-heal-attempts N``: a whole number, 1 or more (argparse makes a refusal a
    usage error on the option)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def command_json(args: argparse.Namespace) -> dict[str, Any]:
    """The --json attributes (a JSON object, or @FILE holding one)."""
    raw = args.json_attrs
    if raw is None:
        return {}
    source = "--json"
    if raw.startswith("@"):
        source = raw[1:]
        try:
            raw = Path(source).read_text()
        except OSError as exc:
            raise UserError(f"--json: cannot read {source}: {exc.strerror}") from None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UserError(f"{source}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise UserError(f"{source}: expected a JSON object, got {type(value).__name__}")
    return value
