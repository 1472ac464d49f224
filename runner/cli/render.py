"""Everything the command line prints: live progress lines, tables, summaries, plans, failures, JSON.

The one room for rendering: the API returns reports and emits events; this
module turns them into text. Progress goes to stderr, so stdout keeps the
report (or its JSON).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO, Any

from runner.api.reports import (
    CookbookListReport,
    CookbooksReport,
    DependenciesReport,
    DeployReport,
    HistoryReport,
    InstancesReport,
    LifecycleReport,
    StatusReport,
    VendorReport,
    WatchReport,
    deploy_result,
)
from runner.deploy.host import FAILED_HOST, REVERTED
from runner.engine.outcome import CHANGED, FAILED, NOT_RUN, OK, SKIPPED, WOULD_CHANGE
from runner.events import Event, HostFinished, InstanceChange, Progress, RunStarted

TAIL_LINES = 20


def print_table(out: IO[str], header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for row in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


#: nesting levels of a JSON report written one item a line, indented; deeper values (a host's
#: resources, each) are written on one line each
JSON_INDENTED_LEVELS = 4


def print_json(out: IO[str], report: Any) -> None:
    out.write(json_text(report.to_dict()) + "\n")


def json_text(value: Any, level: int = 0) -> str:
    """``value`` as JSON, indented by two spaces down to :data:`JSON_INDENTED_LEVELS` levels.

    ``json.dumps(indent=2)`` takes Python's own encoder, not the C one: for a run over
    hundreds of hosts that cost more CPU than anything else runner did after the run.
    Here each value below those levels is encoded by the C encoder, on one line.
    """
    pad = "  " * (level + 1)
    if level < JSON_INDENTED_LEVELS and isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
        items = [f"{pad}{json.dumps(k)}: {json_text(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    if level < JSON_INDENTED_LEVELS and isinstance(value, (list, tuple)) and value:
        return "[\n" + ",\n".join(pad + json_text(v, level + 1) for v in value) + "\n" + "  " * level + "]"
    return json.dumps(value)


def tail(text: str, indent: str = "      ") -> str:
    """The last TAIL_LINES lines of ``text``, indented."""
    lines = text.rstrip("\n").split("\n")
    if len(lines) > TAIL_LINES:
        lines = [f"... ({len(lines) - TAIL_LINES} lines above)"] + lines[-TAIL_LINES:]
    return "\n".join(indent + line for line in lines)


class LivePrinter:
    """Progress events as timestamped lines (thread-safe): ``[  1.2s] app1: probing 12 resources``."""

    def __init__(self, stream: IO[str] | None = None, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.label = "runner"  # who a run-level line is about: the app of a deploy

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.label = event.app or event.command
        elif isinstance(event, Progress):
            self.line(event.host or self.label, event.message)
        elif isinstance(event, HostFinished):
            self.line(event.host, event.summary)

    def line(self, who: str, text: str) -> None:
        if not self.enabled:
            return
        with self.lock:
            elapsed = time.monotonic() - self.started
            first, *rest = text.split("\n")
            self.stream.write(f"[{elapsed:6.1f}s] {who}: {first}\n")
            for more in rest:
                self.stream.write(f"          {more}\n")
            self.stream.flush()


def interrupted_message(exc: KeyboardInterrupt) -> str:
    """What Ctrl-C says: which hosts it cut off in the middle of applying changes, if any."""
    mid_apply = getattr(exc, "mid_apply", ())
    if not mid_apply:
        return "runner: interrupted"
    return (f"runner: interrupted; cut off mid-apply: {', '.join(mid_apply)} "
            f"(their changes are partly made: the next converge completes them)")


def shard_line(report: Any) -> str | None:
    """``shard 1/4: 13 of 50 instances`` for a run on a shard (``... selects none ...: nothing to do``)."""
    picked = getattr(report, "shard", None)
    if picked is None:
        return None
    return picked.describe() + ("" if picked.selected else ": nothing to do")


def write_shard(out: IO[str], report: Any, prefix: str = "") -> None:
    line = shard_line(report)
    if line is not None:
        out.write(f"{prefix}{line}\n")


# -- recipe runs -------------------------------------------------------------------------


def print_summary(out: IO[str], report: LifecycleReport, title: str | None = None) -> None:
    out.write(f"\n{title or f'{report.command} of stack {report.stack}: {report.seconds:.1f} s'}\n")
    write_shard(out, report)
    rows = []
    for o in report.hosts:
        rows.append((o.host, "FAILED" if o.failed else "ok", o.count(CHANGED), o.count(OK), o.count(SKIPPED),
                     o.count(FAILED) + (1 if o.error else 0), o.ignored, f"{o.seconds:.1f}", o.remote_commands))
    print_table(out, ("HOST", "RESULT", "CHANGED", "OK", "SKIPPED", "FAILED", "IGNORED", "SECONDS", "COMMANDS"),
                rows)
    for o in report.hosts:
        if o.error:
            out.write(f"\n{o.host}: {o.error}\n")
        for r in o.resources:
            if r.status == FAILED:
                where = f" ({r.location})" if r.location else ""
                ignored = " (ignored: ignore_failure)" if r.ignored_failure else ""
                out.write(f"\n{o.host}: {r.key} failed{where}{ignored}\n")
                if r.output:
                    out.write(tail(r.output) + "\n")
        not_run = [r.key for r in o.resources if r.status == NOT_RUN]
        if not_run:
            out.write(f"{o.host}: not run after the failure: {', '.join(not_run)}\n")


def print_plan(out: IO[str], report: LifecycleReport) -> None:
    write_shard(out, report)
    for o in report.hosts:
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


def print_lifecycle(out: IO[str], report: LifecycleReport, fmt: str) -> None:
    if fmt == "json":
        print_json(out, report)
    elif report.plan:
        print_plan(out, report)
    else:
        print_summary(out, report)


# -- apps ----------------------------------------------------------------------------------


def print_dependencies(out: IO[str], report: DependenciesReport, fmt: str) -> None:
    """``update-dependencies``: a row per host, then each package that moved (``name 1.0 -> 1.1``)."""
    if fmt == "json":
        print_json(out, report)
        return
    out.write(f"\n{report.command} of stack {report.stack}: {report.seconds:.1f} s\n")
    write_shard(out, report)
    print_table(out, ("HOST", "RESULT", "MANAGER", "CHANGED", "SECONDS"),
                [(h.host, "ok" if h.ok else "FAILED", h.manager or "-", len(h.changes), f"{h.seconds:.1f}")
                 for h in report.hosts])
    for h in report.hosts:
        if h.changes:
            out.write(f"\n{h.host}:\n")
            for c in h.changes:
                out.write(f"  {c.name} {c.before or '(not installed)'} -> {c.after or '(removed)'}\n")
        if h.error:
            out.write(f"\n{h.host}: {h.error}\n")
            if h.output:
                out.write(tail("\n".join(h.output)) + "\n")


def deploy_title(report: DeployReport) -> str:
    if report.command == "undeploy":
        return f"undeploy of {report.app}: {report.seconds:.1f} s"
    title = f"{report.command} of {report.app} ({report.strategy}): {report.seconds:.1f} s"
    if report.release and report.command == "deploy":
        title += f", release {report.release}"
    if report.stopped:
        title += f"; stopped: {report.stopped}"
    return title


def print_deploy(out: IO[str], report: DeployReport, fmt: str) -> None:
    if fmt == "json":
        print_json(out, report)
        return
    out.write(f"\n{report.redact(deploy_title(report))}\n")
    write_shard(out, report)
    rows = [(s.host, deploy_result(s), s.release or "-", s.previous or "-", s.step or "-", f"{s.seconds:.1f}",
             f"{s.health_seconds:.1f}", s.remote_commands) for s in report.hosts]
    print_table(out, ("HOST", "RESULT", "RELEASE", "PREVIOUS", "FAILED STEP", "SECONDS", "HEALTH S", "COMMANDS"),
                rows)
    if report.balancer_commands:
        out.write("load balancer commands: " + ", ".join(f"{lb} {n}" for lb, n in report.balancer_commands.items())
                  + "\n")
    for s in report.hosts:
        if s.status in (FAILED_HOST, REVERTED) and s.error:
            out.write(f"\n  {s.host}: {s.step}: {s.error}\n")
            if s.output.strip():
                out.write(tail(s.output) + "\n")
    if report.drained:
        out.write("\nstill out of the load balancer (put back by hand once the lb instance answers):\n")
        for d in report.drained:
            if not d.put_back:
                out.write(f"  {d.server}: its balancer type offers no command: put it back with the balancer's tools\n")
            for lb, command in d.put_back.items():
                out.write(f"  {d.server} on {lb}: {report.redact(command)}\n")


def print_history(out: IO[str], err: IO[str], report: HistoryReport, fmt: str) -> None:
    if fmt == "json":
        print_json(out, report)
        return
    print_table(out, ("TIME", "COMMAND", "RELEASE", "REVISION", "HOSTS", "RESULT"),
                [(r["time"], r["command"], r["release"] or "-", (r["revision"] or "-")[:12],
                  ",".join(r["hosts"]), r["result"]) for r in report.deployments])
    for host, error in report.unreachable.items():
        err.write(f"runner: {host}: no history: {error}\n")
    write_shard(err, report, "runner: ")


# -- instances ---------------------------------------------------------------------------------


def print_status(out: IO[str], err: IO[str], report: StatusReport, fmt: str) -> None:
    if fmt == "json":
        print_json(out, report)
        return
    table = []
    for row in report.instances:
        setup = {True: "yes", False: "no", None: "-"}[row.setup]
        for app, info in (row.apps or {"-": None}).items():
            info = info or {}
            table.append((row.instance, row.status, ",".join(row.layers), setup, app, info.get("release") or "-",
                          (info.get("revision") or "-")[:12], info.get("status") or "-"))
    print_table(out, ("INSTANCE", "STATUS", "LAYERS", "SET UP", "APP", "RELEASE", "REVISION", "RELEASE STATUS"),
                table)
    for row in report.instances:
        if row.error:
            err.write(f"runner: {row.instance}: {row.error}\n")
        elif row.reason:
            err.write(f"runner: {row.instance}: {row.status}: {row.reason}\n")
    write_shard(err, report, "runner: ")


def print_instances(out: IO[str], err: IO[str], report: InstancesReport, fmt: str) -> None:
    """The instance table on ``out``; the summaries of the lifecycle runs it caused on ``err``."""
    for event in report.events:
        print_summary(err, event)
    if fmt == "json":
        print_json(out, report)
        return

    def ports(row) -> str:  # 80->127.0.0.1:32769 for each published service port
        if not row.ports:
            return "-"
        return ",".join(f"{inner}->{row.address}:{outer}" for inner, outer in sorted(row.ports.items()))

    def details(row) -> str:  # what the provider adds: ec2's instance id, type, state, addresses, ...
        shown = [f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in row.details.items()
                 if v not in (None, "", [], {})]
        return " ".join(shown) or "-"

    print_table(out, ("INSTANCE", "HOSTNAME", "LAYERS", "STATUS", "ADDRESS", "PORTS", "DETAILS"), [
        (r.instance, r.hostname, ",".join(r.layers), r.status, f"{r.address}:{r.port}" if r.address else "-",
         ports(r), details(r)) for r in report.instances])
    for r in report.instances:
        if r.reason:
            err.write(f"runner: {r.instance}: {r.status}: {r.reason}\n")
    write_shard(err, report, "runner: ")


def print_cookbooks(out: IO[str], report: CookbooksReport, fmt: str) -> None:
    if fmt == "json":
        print_json(out, report)
        return
    if report.paths:
        print_table(out, ("COOKBOOK PATH", "RESULT", "DETAIL"), [(p.path, p.result, p.detail) for p in report.paths])
    if report.moves:
        print_table(out, ("COOKBOOK", "SOURCE", "RESULT", "REVISION"),
                    [(m.name, m.source, m.result, _moved(m.before, m.after)) for m in report.moves])
    out.write(f"{len(report.cookbooks)} cookbooks loaded: {', '.join(report.cookbooks)}\n")


def print_cookbook_list(out: IO[str], report: CookbookListReport, fmt: str) -> None:
    """``runner cookbooks``: one row per cookbook; a cookbook shadowed along the path is noted below."""
    if fmt == "json":
        print_json(out, report)
        return
    rows = [(c.name, c.version, c.source, c.revision or "-", ", ".join(c.dependents) or "-",
             ", ".join(c.layers) or "-") for c in report.cookbooks]
    print_table(out, ("COOKBOOK", "VERSION", "SOURCE", "REVISION", "DEPENDED ON BY", "LAYERS"), rows)
    for c in report.cookbooks:
        if c.shadowed:
            out.write(f"{c.name}: also found, not used (first match wins): {'; '.join(c.shadowed)}\n")


def print_vendor(out: IO[str], report: VendorReport, fmt: str) -> None:
    if fmt == "json":
        print_json(out, report)
        return
    books = ", ".join(report.files)
    out.write(f"vendored {len(report.files)} cookbooks ({sum(report.files.values())} files) into "
              f"{report.directory}: {books}\n")


def _moved(before: str | None, after: str | None) -> str:
    """``3f2a1b0 -> 9c8d7e6``; a git sha shortened, anything else as it is."""
    def short(revision: str | None) -> str:
        if revision is None:
            return "-"
        return revision[:12] if len(revision) == 40 and all(c in "0123456789abcdef" for c in revision) else revision
    return short(after) if before == after else f"{short(before)} -> {short(after)}"


# -- runner watch ------------------------------------------------------------------------


def change_line(change: InstanceChange) -> str:
    """``2026-12-02T10:00:00+00:00 app1 heal: stopped -> online: auto-healing: ...`` (one event of the log)."""
    moved = f" {change.from_status} -> {change.to_status}" if change.from_status or change.to_status else ""
    return f"{change.time} {change.instance} {change.action}:{moved}: {change.why}".replace(":: ", ": ")


def print_watch(out: IO[str], err: IO[str], report: WatchReport, fmt: str) -> None:
    """The end of a watch: its report as JSON, or a line saying how many passes and decisions (the events were
    printed as they came)."""
    if fmt == "json":
        print_json(out, report)
    else:
        how = "interrupted" if report.interrupted else "stopped"
        err.write(f"runner watch: {how} after {report.passes} pass{'es' if report.passes != 1 else ''}, "
                  f"{len(report.changes)} event{'s' if len(report.changes) != 1 else ''}\n")
    for error in report.errors:
        err.write(f"runner: {error}\n")
    for run in report.runs:
        for host, why in run.failures().items():
            err.write(f"runner: {run.command} on {host} failed: {why}\n")
