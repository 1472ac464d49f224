"""``runner watch`` (heal, schedule and scale the stack's instances) and ``runner events`` (what it decided).

Both are thin: the loop is :meth:`runner.api.Session.watch`, the log
:meth:`runner.api.Session.events`. SIGTERM stops a watch as Ctrl-C does.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.options import add_parallel, add_shard, count, open_session
from runner.cli.render import change_line, print_watch
from runner.events import InstanceChange
from runner.model.durations import parse_duration


def duration(text: str) -> float:
    """``--for`` / ``--interval``: 30s, 5m, 1h or seconds, more than zero."""
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text!r}")
    return value


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in the main thread while inside (a systemd stop ends a watch cleanly)."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class WatchCommand(Command):
    name = "watch"
    help = "heal, schedule and scale the instances (OpsWorks' service), until Ctrl-C, --once or --for"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--interval", type=duration, default=30.0, metavar="DURATION",
                            help="time between passes (default 30s)")
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--for", dest="duration", type=duration, default=None, metavar="DURATION",
                            help="stop after this long (30s, 5m, 1h)")
        parser.add_argument("--max-heal-attempts", type=count, default=3, metavar="N",
                            help="heals of an instance before it is marked start_failed (default 3)")
        add_parallel(parser)
        add_shard(parser)  # refused: a watch needs the whole stack (Session.watch says why)

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        with open_session(args, ctx) as session:
            if args.format == "text":
                printer = session.on_event

                def on_event(event: Any) -> None:
                    if isinstance(event, InstanceChange):
                        ctx.out.write(change_line(event) + "\n")
                        ctx.out.flush()
                    elif printer is not None:
                        printer(event)
                session.on_event = on_event
            with sigterm_interrupts():
                report = session.watch(interval=args.interval, once=args.once, duration=args.duration,
                                       max_heal_attempts=args.max_heal_attempts)
        print_watch(ctx.out, ctx.err, report, args.format)
        return 0 if report.ok else 1


class EventsCommand(Command):
    name = "events"
    help = "what runner watch decided, from the stack's events log (--follow for new ones)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--follow", action="store_true", help="keep printing new events (until Ctrl-C or --for)")
        parser.add_argument("--for", dest="duration", type=duration, default=None, metavar="DURATION",
                            help="with --follow: stop after this long")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        with open_session(args, ctx) as session:
            changes = session.events(instances=args.instance or None, follow=args.follow, duration=args.duration)
            try:
                with sigterm_interrupts():
                    for change in changes:
                        if args.format == "json":
                            ctx.out.write(json.dumps(dataclasses.asdict(change), sort_keys=True) + "\n")
                        else:
                            ctx.out.write(change_line(change) + "\n")
                        ctx.out.flush()
            except KeyboardInterrupt:
                if not args.follow:
                    raise
        return 0


@hookimpl
def runner_commands() -> list[Command]:
    return [WatchCommand(), EventsCommand()]

