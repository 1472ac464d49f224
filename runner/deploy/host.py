"""One app on one host during a deployment: the steps, each one remote command over one connection.

A step that fails raises :class:`StepFailed` naming the step (``stage``,
``hook:before_symlink``, ``recipes``, ``health_check`` ...) and the tail of
its output, already stripped of secrets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runner.deploy import hostscripts
from runner.deploy.releases import HostReleases, parse_inspect
from runner.engine import hostlock
from runner.engine.host import HostJob, HostOptions, HostRunner
from runner.engine.outcome import FAILED
from runner.engine.redact import Redactor
from runner.engine.wire import run_script
from runner.errors import HostError
from runner.resources.api import Resource
from runner.ssh.api import CommandResult
from runner.ssh.api import Transport as Connection

OUTPUT_TAIL = 1500

#: where a host is in a deployment (:attr:`HostDeploy.status`)
PENDING, DONE, FAILED_HOST, REVERTED, SKIPPED = "pending", "done", "failed", "reverted", "skipped"


class StepFailed(Exception):
    def __init__(self, host: str, step: str, message: str, output: str = ""):
        super().__init__(f"{host}: {step}: {message}")
        self.host, self.step, self.message, self.output = host, step, message, output


@dataclass
class HostDeploy:
    """The state of one host in a deployment (what the strategies and the report see)."""

    host: str
    conn: Connection | None = None
    releases: HostReleases = field(default_factory=HostReleases)
    release: str | None = None  # the release this run moves the host to
    previous: str | None = None  # where current pointed before this run
    status: str = PENDING  # PENDING | DONE | FAILED_HOST | REVERTED | SKIPPED
    step: str | None = None  # the failed step
    error: str | None = None
    output: str = ""
    seconds: float = 0.0
    health_seconds: float = 0.0
    remote_commands: int = 0
    meta: dict[str, Any] = field(default_factory=dict)  # the new release's .release.json
    lock: Any = None  # the channel holding the app's lock on the host (closed with the connection)
    log: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status in (FAILED_HOST, REVERTED)


class HostSteps:
    """Runs deployment steps on one host and records them in its :class:`HostDeploy`."""

    def __init__(self, state: HostDeploy, app: str, redact: Redactor, log: Callable[[str, str], None],
                 verbose: int = 0):
        self.state, self.app, self.redact, self.log, self.verbose = state, app, redact, log, verbose

    @property
    def conn(self) -> Connection:
        assert self.state.conn is not None, "the host's connection is not open"
        return self.state.conn

    def run(self, step: str, script: str, payload: bytes = b"", hide: str | None = None) -> CommandResult:
        """Run ``script`` (payload after it on stdin); a non-zero exit raises StepFailed for ``step``.

        ``hide``: a part of the script that -v must not show (a fetch script may hold a presigned URL).
        """
        data = script.encode()
        if self.verbose:
            shown = script.replace(hide, "(the source's fetch script, hidden)") if hide else script
            self.log(self.state.host, f"$ {step} ({len(data)} bytes of sh):\n" + self.redact(shown))
        self.state.remote_commands += 1
        try:
            result = run_script(self.conn, data, payload)
        except HostError as exc:
            raise StepFailed(self.state.host, step, self.redact(exc.message)) from None
        if result.exit_status != 0:
            failed_step, output = self._failed_part(result, step)
            raise StepFailed(self.state.host, failed_step, f"exit status {result.exit_status}", output)
        return result

    def _failed_part(self, result: CommandResult, step: str) -> tuple[str, str]:
        """The last ``@@step`` the script reached, and the output printed after it."""
        text = result.stdout.decode("utf-8", "replace")
        err = result.stderr.decode("utf-8", "replace")
        part, output = step, text
        marker = hostscripts.STEP + " "
        index = text.rfind(marker)
        if index >= 0:
            line_end = text.find("\n", index)
            part = text[index + len(marker): line_end if line_end >= 0 else None].strip() or step
            output = text[line_end + 1:] if line_end >= 0 else ""
        combined = (output + ("\n" + err if err.strip() else "")).strip()
        return part, self.redact(combined)[-OUTPUT_TAIL:]

    # -- the steps -----------------------------------------------------------

    def lock(self, command: str = "deploy") -> None:
        """Take the app's lock on the host for the rest of this connection: one deploy, rollback or
        undeploy of an app at a time. It is released when the runner ends, even when it is killed.

        The host's run lock is taken first, shared, in the same command (none of converge, setup ...
        meanwhile), unless this connection holds it already (setup's deploy: see runner.engine.hostlock)."""
        host_lock = "" if hostlock.held(self.conn) else hostlock.take_shell(
            hostlock.holder(f"{command} of {self.app}"), shared=True, quiet=True)
        try:
            line, channel = self.conn.hold(hostscripts.lock_command(self.app, host_lock), timeout=30)
        except HostError as exc:
            raise StepFailed(self.state.host, "lock", self.redact(exc.message)) from None
        self.state.remote_commands += 1
        if line.startswith(hostlock.BUSY):
            channel.close()
            raise StepFailed(self.state.host, "lock", hostlock.busy_message(line))
        if line == hostscripts.NO_LOCK:
            self.log(self.state.host, "warning: no flock on this host: this run is not locked against others")
        elif line != hostscripts.LOCKED:
            channel.close()
            if hostscripts.IS_A_SYMLINK in line:  # a link planted at the lock (or its directory)
                raise StepFailed(self.state.host, "lock", self.redact(line))
            raise StepFailed(self.state.host, "lock", f"another deploy, rollback or undeploy of {self.app} is "
                             f"running on this host ({hostscripts.lock_path(self.app)} is held); "
                             "try again when it has ended")
        self.state.lock = channel

    def inspect(self) -> HostReleases:
        result = self.run("inspect", hostscripts.inspect_script(self.app))
        self.state.releases = parse_inspect(result.stdout.decode("utf-8", "replace"))
        self.state.previous = self.state.releases.current
        return self.state.releases

    def stage(self, release: str, meta: dict[str, Any], environment: bytes, payload: bytes | None,
              remote_fetch: str | None) -> tuple[str | None, str | None]:
        """Create the release and run the hooks before the switch; returns (checksum, revision) fetched on the host."""
        script = hostscripts.stage_script(self.app, release, meta, len(environment),
                                          None if payload is None else len(payload), remote_fetch)
        result = self.run("stage", script, environment + (payload or b""), hide=remote_fetch)
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            if line.startswith(hostscripts.SOURCE + " "):
                _, checksum, revision = (line.split(" ") + ["-", "-"])[:3]
                return (None if checksum == "-" else checksum), (None if revision == "-" else revision)
        return None, None

    def switch(self, release: str | None, metas: dict[str, dict[str, Any]], hook: str | None = None) -> None:
        self.run("switch", hostscripts.switch_script(self.app, release, metas, hook))

    def hook(self, release: str, hook: str, metas: dict[str, dict[str, Any]] | None = None) -> None:
        self.run(f"hook:{hook}", hostscripts.hook_script(self.app, release, hook, metas))

    def recipes(self, resources: list[Resource], options: HostOptions) -> None:
        """Converge the deploy (or undeploy) recipes through the engine, over this connection."""
        outcome = HostRunner(HostJob(self.state.host, resources), self.conn, options).run()
        self.state.remote_commands += outcome.remote_commands
        if outcome.failed:
            failed = [r for r in outcome.resources if r.status == FAILED and not r.ignored_failure]
            if failed:
                where = f" ({failed[0].location})" if failed[0].location else ""
                raise StepFailed(self.state.host, "recipes", f"{failed[0].key} failed{where}", failed[0].output)
            raise StepFailed(self.state.host, "recipes", outcome.error or "the recipes failed")

    def health_check(self, command: str, attempts: int, interval: float, timeout: float) -> str:
        started = time.monotonic()
        try:
            result = self.run("health_check", hostscripts.health_script(command, attempts, interval, timeout))
        finally:
            self.state.health_seconds += time.monotonic() - started
        return result.stdout.decode("utf-8", "replace").strip()

    def finish(self, remove: list[str], entry: dict[str, Any]) -> None:
        self.run("finish", hostscripts.finish_script(self.app, remove, entry))

    def undeploy(self, entry: dict[str, Any]) -> None:
        self.run("undeploy", hostscripts.undeploy_script(self.app, entry))

    def history(self) -> str:
        return self.run("history", hostscripts.history_script(self.app)).stdout.decode("utf-8", "replace")
