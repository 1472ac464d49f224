"""``update_dependencies``: OpsWorks' command of that name, an OS package upgrade on each selected instance.

One remote command per host takes the host's run lock, finds the package
manager (apt-get on Debian and Ubuntu, else dnf, else yum), lists the
installed packages with their versions, upgrades (``apt-get update`` then
``apt-get upgrade``; ``dnf upgrade``; ``yum update``), and lists them again.
The two lists are compared here, so the report says which package moved from
which version to which (and which were newly installed or removed).

``install_dependencies`` (the layers' packages again, as setup installs them)
is a recipe-less run of the engine: see :func:`runner.lifecycle.plan_run`.
"""

from __future__ import annotations

import posixpath
import shlex
import time
from dataclasses import dataclass

from runner.api.base import SessionBase
from runner.api.reports import DependenciesReport, HostDependencies, PackageChange
from runner.api.runs import online_targets
from runner.engine import hostlock
from runner.engine.wire import run_script
from runner.events import Progress
from runner.resources.builtin.package import APT_STAMP
from runner.ssh.api import Transport as Connection
from runner.ssh.group import HostGroup

UPDATE_DEPENDENCIES = "update_dependencies"
MARK = "@@deps"
#: lines of the upgrade's output kept in the report when it failed
OUTPUT_TAIL = 40

_APT_OPTS = "-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
# installed packages, one "name version" line each (dpkg: the Status word "installed"; rpm: epoch:version-release)
_DPKG_LIST = ("dpkg-query -W -f '${Status} ${binary:Package} ${Version}\\n' "
              "| awk '$3 == \"installed\" { print $4, $5 }'")
_RPM_LIST = "rpm -qa --qf '%{NAME}.%{ARCH} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n'"


def update_script(who: str) -> str:
    """The shell run on each host (as root): lock, detect, list, upgrade, list; every line framed by MARK."""
    q = shlex.quote
    return "\n".join([
        hostlock.take_shell(who, quiet=True),
        "export DEBIAN_FRONTEND=noninteractive LC_ALL=C",
        'out="$1/upgrade.log"',
        "if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then",
        "  pm=apt",
        f"  runner_list() {{ {_DPKG_LIST}; }}",
        f"  runner_upgrade() {{ apt-get update -q && mkdir -p {q(posixpath.dirname(APT_STAMP))} "
        f"&& touch {q(APT_STAMP)} && apt-get upgrade {_APT_OPTS}; }}",
        "elif command -v dnf >/dev/null 2>&1; then",
        "  pm=dnf",
        f"  runner_list() {{ {_RPM_LIST}; }}",
        "  runner_upgrade() { dnf -y upgrade; }",
        "elif command -v yum >/dev/null 2>&1; then",
        "  pm=yum",
        f"  runner_list() {{ {_RPM_LIST}; }}",
        "  runner_upgrade() { yum -y update; }",
        "else",
        f"  echo '{MARK} error no supported package manager (apt-get, dnf or yum) on this host'; exit 1",
        "fi",
        f"echo \"{MARK} manager $pm\"",
        f"runner_list | sed 's/^/{MARK} before /'",
        'runner_upgrade > "$out" 2>&1; st=$?',
        f"runner_list | sed 's/^/{MARK} after /'",
        f"if [ \"$st\" -ne 0 ]; then echo \"{MARK} failed $st\"; tail -n {OUTPUT_TAIL} \"$out\" "
        f"| sed 's/^/{MARK} output /'; exit 1; fi",
        f"echo '{MARK} done'",
    ]) + "\n"


@dataclass
class UpdateOutput:
    """What a host's update script said."""

    manager: str | None
    before: dict[str, str]
    after: dict[str, str]
    done: bool  # the upgrade succeeded
    error: str | None  # why it did not
    output: list[str]  # the upgrade's last lines, when it failed


def parse_update(text: str) -> UpdateOutput:
    """The MARK lines of :func:`update_script`'s output (anything else is ignored)."""
    found = UpdateOutput(None, {}, {}, False, None, [])
    for line in text.splitlines():
        head, _, rest = line.partition(" ")
        if head != MARK:
            continue
        kind, _, value = rest.partition(" ")
        if kind in ("before", "after"):
            name, _, version = value.partition(" ")
            if name:
                (found.before if kind == "before" else found.after)[name] = version
        elif kind == "manager":
            found.manager = value
        elif kind == "done":
            found.done = True
        elif kind == "failed":
            found.error = f"the upgrade failed (exit status {value})"
        elif kind == "output":
            found.output.append(value)
        elif kind == "error":
            found.error = value
    return found


def package_changes(before: dict[str, str], after: dict[str, str]) -> list[PackageChange]:
    """Every package whose version moved, appeared (before None) or went away (after None), by name."""
    names = sorted(set(before) | set(after))
    return [PackageChange(name, before.get(name), after.get(name)) for name in names
            if before.get(name) != after.get(name)]


def host_summary(result: HostDependencies) -> str:
    """The live line after a host is done."""
    if not result.ok:
        return f"FAILED: {result.error}"
    moved = len(result.changes)
    return f"done: {moved} package{'' if moved == 1 else 's'} changed ({result.manager}, {result.seconds:.1f} s)"


def update_dependencies(session: SessionBase, names: list[str]) -> DependenciesReport:
    """Upgrade the OS packages of the named instances, in parallel; one host's failure stops no other."""
    stack = session.stack
    states = session.states()
    targets = online_targets(stack, states, names)
    status = {s.name: s.status for s in states}
    script = update_script(hostlock.holder(UPDATE_DEPENDENCIES)).encode()
    info = session.started(UPDATE_DEPENDENCIES, names)
    started = time.monotonic()
    results: dict[str, HostDependencies] = {
        n: HostDependencies(n, False, error=f"instance is {status.get(n, 'unknown')}")
        for n in names if n not in targets}

    def one(conn: Connection) -> HostDependencies:
        host_started = time.monotonic()
        name = conn.target.name
        session.emit(Progress(name, "upgrading the OS packages"))
        if session.verbose:
            session.emit(Progress(name, f"$ update ({len(script)} bytes of sh):\n{script.decode()}"))
        result = run_script(conn, script)
        text = result.stdout.decode("utf-8", "replace")
        found = parse_update(text)
        error = found.error
        first = text.splitlines()[0] if text.strip() else ""
        if first.startswith(hostlock.BUSY):
            error = hostlock.busy_message(first)
        elif not found.done and error is None:
            detail = (result.stderr.decode("utf-8", "replace").strip() or text.strip())[-500:]
            error = f"the update script failed (exit status {result.exit_status}): {detail or 'no output'}"
        outcome = HostDependencies(name, found.done and error is None, found.manager,
                                   package_changes(found.before, found.after) if found.after else [],
                                   error, found.output, time.monotonic() - host_started)
        session.host_finished(info, name, outcome.ok, host_summary(outcome))
        return outcome

    with HostGroup(targets.values(), session.parallel) as group:
        done = group.each(one, keep_open=False)
    results.update(done.succeeded)
    for name, exc in done.failed.items():
        results[name] = HostDependencies(name, False, error=exc.message)
    report = DependenciesReport(UPDATE_DEPENDENCIES, stack.name, [results[n] for n in names if n in results],
                                time.monotonic() - started)
    session.finished(info, report, report.seconds, {r.host: host_summary(r) for r in report.hosts})
    return report
