"""``status``: each instance's OpsWorks status, whether it was set up, and what each app runs.

The status is the provider's word overlaid with the runner's own record and
with this command's SSH connection (runner.api.instance_status): a host the
provider says is online and that SSH cannot reach is ``connection_lost``.

One remote command per online instance reads the setup marker and, for every
app of its layers, where ``current`` points and that release's .release.json.
"""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

from runner.api import setup_record
from runner.api.base import SessionBase
from runner.api.instance_status import gave_up, shown
from runner.api.reports import InstanceStatus, StatusReport
from runner.engine.wire import run_script
from runner.lifecycle import setup_marker
from runner.model.stack import Stack
from runner.ssh.api import Transport as Connection
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


def status(session: SessionBase, names: list[str]) -> StatusReport:
    stack = session.stack
    states = session.provider().status(names)
    marker = setup_marker(stack)

    def read(conn: Connection) -> dict[str, Any]:
        script = status_script(marker, host_apps(stack, conn.target.name)).encode()
        return parse_status(run_script(conn, script).stdout.decode("utf-8", "replace"))

    info = session.started("status", names)
    started = time.monotonic()
    targets = [resolve_target(stack, s.host) for s in states if s.online and s.host is not None]
    with HostGroup(targets, session.parallel) as group:
        found_by_host = group.each(read, keep_open=False)
    seen: dict[str, dict[str, Any]] = {**found_by_host.succeeded,
                                       **{n: {"error": e.message, "cause": e.cause}
                                          for n, e in found_by_host.failed.items()}}
    entries = setup_record.for_stack(stack).entries()
    given_up = gave_up(stack)
    report = StatusReport(stack.name)
    for state in states:
        found = seen.get(state.name, {})
        view = shown(state, entries.get(state.name), ssh_cause=found.get("cause"), ssh_error=found.get("error"),
                     gave_up=given_up.get(state.name))
        report.instances.append(InstanceStatus(
            state.name, view.status, list(stack.instances[state.name].layers), found.get("setup"),
            found.get("error"), found.get("apps", {a: None for a in host_apps(stack, state.name)}),
            view.provider_status if view.overridden else None, view.reason))
    session.finished(info, report, time.monotonic() - started)
    return report
