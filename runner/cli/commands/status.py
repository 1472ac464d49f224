"""``runner status``: each instance as its provider sees it, whether it was set up, and what each app runs.

One remote command per online instance reads the setup marker and, for every
app of its layers, where ``current`` points and that release's .release.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.options import load_stack, select_instances
from runner.cli.table import print_table
from runner.engine.run import DEFAULT_PARALLEL
from runner.engine.wire import run_script
from runner.lifecycle import setup_marker
from runner.model.stack import Stack
from runner.ssh.connection import Connection
from runner.ssh.group import HostGroup
from runner.ssh.target import resolve_target

MARK = "@@status"


def status_script(marker: str, apps: list[str]) -> str:
    lines = [f"if [ -f {shlex.quote(marker)} ]; then echo '{MARK} setup yes'; else echo '{MARK} setup no'; fi"]
    for app in apps:
        root = shlex.quote(f"/srv/{app}")
        lines += [
            f"cur=$(readlink {root}/current 2>/dev/null || true)",
            f"printf '%s app %s %s ' '{MARK}' {shlex.quote(app)} \"${{cur:--}}\"",
            f"if [ -n \"$cur\" ] && [ -f {root}/\"$cur\"/.release.json ]; then "
            f"tr -d '\\n' < {root}/\"$cur\"/.release.json; fi",
            "echo",
        ]
    return "\n".join(lines) + "\n"


def parse_status(text: str) -> dict[str, Any]:
    found: dict[str, Any] = {"setup": None, "apps": {}}
    for line in text.splitlines():
        parts = line.split(" ", 4)
        if parts[0] != MARK or len(parts) < 3:
            continue
        if parts[1] == "setup":
            found["setup"] = parts[2] == "yes"
        elif parts[1] == "app" and len(parts) >= 4:
            try:
                meta = json.loads(parts[4]) if len(parts) > 4 and parts[4].strip() else {}
            except json.JSONDecodeError:
                meta = {}
            current = None if parts[3] == "-" else parts[3].rsplit("/", 1)[-1]
            found["apps"][parts[2]] = {"release": current, "revision": meta.get("revision"),
                                       "status": meta.get("status"), "time": meta.get("time")}
    return found


def host_apps(stack: Stack, name: str) -> list[str]:
    layers = set(stack.instances[name].layers)
    return [app.name for app in stack.apps.values() if layers & set(app.layers)]


class StatusCommand(Command):
    name = "status"
    help = "each instance's state, whether it was set up, and the release each app runs"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, metavar="N",
                            help=f"hosts at a time (default {DEFAULT_PARALLEL})")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        stack = load_stack(args, ctx.registry)
        names = select_instances(stack, args.layer, args.instance)
        states = ctx.registry.provider(stack.provider)(stack).status(names)
        marker = setup_marker(stack)

        def read(conn: Connection) -> dict[str, Any]:
            script = status_script(marker, host_apps(stack, conn.target.name)).encode()
            return parse_status(run_script(conn, script).stdout.decode("utf-8", "replace"))

        targets = [resolve_target(stack, s.host) for s in states if s.online and s.host is not None]
        with HostGroup(targets, args.parallel) as group:
            found_by_host = group.each(read)
        seen: dict[str, dict[str, Any]] = {**found_by_host.succeeded,
                                           **{n: {"error": e.message} for n, e in found_by_host.failed.items()}}
        rows = []
        for state in states:
            found = seen.get(state.name, {})
            rows.append({"instance": state.name, "status": state.status,
                         "layers": list(stack.instances[state.name].layers), "setup": found.get("setup"),
                         "error": found.get("error"),
                         "apps": found.get("apps", {a: None for a in host_apps(stack, state.name)})})
        if args.format == "json":
            ctx.out.write(json.dumps(rows, indent=2) + "\n")
        else:
            table = []
            for row in rows:
                setup = {True: "yes", False: "no", None: "-"}[row["setup"]]
                apps = row["apps"] or {"-": None}
                for app, info in apps.items():
                    info = info or {}
                    table.append((row["instance"], row["status"], ",".join(row["layers"]), setup, app,
                                  info.get("release") or "-", (info.get("revision") or "-")[:12],
                                  info.get("status") or "-"))
            print_table(ctx.out, ("INSTANCE", "STATUS", "LAYERS", "SET UP", "APP", "RELEASE", "REVISION",
                                  "RELEASE STATUS"), table)
            for row in rows:
                if row["error"]:
                    ctx.err.write(f"runner: {row['instance']}: {row['error']}\n")
        return 1 if any(row["error"] for row in rows) else 0


@hookimpl
def runner_commands() -> list[Command]:
    return [StatusCommand()]
