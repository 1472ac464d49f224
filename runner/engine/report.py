"""Printing a run: live lines per host, the summary table, failures, plans, and the JSON report."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO

from runner.cli.table import print_table
from runner.engine.outcome import CHANGED, FAILED, NOT_RUN, OK, SKIPPED, WOULD_CHANGE, HostOutcome

TAIL_LINES = 20


class LivePrinter:
    """Thread-safe progress lines on stderr, so stdout stays for the report."""

    def __init__(self, stream: IO[str] | None = None, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, host: str, line: str) -> None:
        if not self.enabled:
            return
        with self.lock:
            elapsed = time.monotonic() - self.started
            first, *rest = line.split("\n")
            self.stream.write(f"[{elapsed:6.1f}s] {host}: {first}\n")
            for more in rest:
                self.stream.write(f"          {more}\n")
            self.stream.flush()


def host_line(outcome: HostOutcome) -> str:
    if outcome.error:
        return f"FAILED: {outcome.error}"
    failed, skipped = outcome.count(FAILED), outcome.count(SKIPPED)
    head = "FAILED" if outcome.failed else "done"
    return (f"{head}: {outcome.count(CHANGED)} changed, {outcome.count(OK)} ok"
            + (f", {skipped} skipped" if skipped else "") + (f", {failed} failed" if failed else "")
            + f" ({outcome.seconds:.1f} s)")


def _tail(text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    if len(lines) > TAIL_LINES:
        lines = [f"... ({len(lines) - TAIL_LINES} lines above)"] + lines[-TAIL_LINES:]
    return "\n".join("      " + line for line in lines)


def print_summary(out: IO[str], outcomes: Sequence[HostOutcome], title: str) -> None:
    out.write(f"\n{title}\n")
    rows = []
    for o in outcomes:
        rows.append((o.host, "FAILED" if o.failed else "ok", o.count(CHANGED), o.count(OK), o.count(SKIPPED),
                     o.count(FAILED) + (1 if o.error else 0), f"{o.seconds:.1f}", o.remote_commands))
    print_table(out, ("HOST", "RESULT", "CHANGED", "OK", "SKIPPED", "FAILED", "SECONDS", "COMMANDS"), rows)
    for o in outcomes:
        if o.error:
            out.write(f"\n{o.host}: {o.error}\n")
        for r in o.resources:
            if r.status == FAILED:
                where = f" ({r.location})" if r.location else ""
                ignored = " (ignored: ignore_failure)" if r.ignored_failure else ""
                out.write(f"\n{o.host}: {r.key} failed{where}{ignored}\n")
                if r.output:
                    out.write(_tail(r.output) + "\n")
        not_run = [r.key for r in o.resources if r.status == NOT_RUN]
        if not_run:
            out.write(f"{o.host}: not run after the failure: {', '.join(not_run)}\n")


def print_plan(out: IO[str], outcomes: Sequence[HostOutcome]) -> None:
    for o in outcomes:
        if o.error:
            out.write(f"{o.host}: cannot plan: {o.error}\n")
            continue
        pending = [r for r in o.resources if r.status == WOULD_CHANGE]
        setup = " (never set up: setup would run first)" if o.ran_setup else ""
        out.write(f"{o.host}: {len(pending)} of {len(o.resources)} resources would change{setup}\n")
        for r in pending:
            out.write(f"  ~ {r.key}: {', '.join(c.summary for c in r.changes)}\n")
            for c in r.changes:
                if c.diff:
                    out.write("\n".join("      " + line for line in c.diff.rstrip("\n").split("\n")) + "\n")


def json_report(command: str, stack: str, outcomes: Sequence[HostOutcome], seconds: float) -> str:
    return json.dumps({
        "command": command, "stack": stack, "ok": not any(o.failed for o in outcomes),
        "seconds": round(seconds, 3), "hosts": [o.to_json() for o in outcomes],
    }, indent=2) + "\n"
