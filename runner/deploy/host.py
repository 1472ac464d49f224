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
from runner.engine.probe import new_token
from runner.engine.redact import Redactor
from runner.engine.wire import run_script, run_script_locked
from runner.engine.wrap import Wrap, WrapFailed
from runner.errors import HostError
from runner.resources.api import Resource
from runner.ssh.api import CommandResult
from runner.ssh.api import Transport as Connection

OUTPUT_TAIL = 1500

#: where a host is in a deployment (:attr:`HostDeploy.status`)
PENDING, DONE, FAILED_HOST, REVERTED, SKIPPED = "pending", "done", "failed", "reverted", "skipped"


class StepFailed(Exception):
    """``switched``: the step failed after ``current`` had moved (see :meth:`HostSteps.change`)."""

    def __init__(self, host: str, step: str, message: str, output: str = "", switched: bool = False):
        super().__init__(f"{host}: {step}: {message}")
        self.host, self.step, self.message, self.output = host, step, message, output
        self.switched = switched


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
        output = "".join(line for line in output.splitlines(keepends=True)
                         if not line.startswith(hostscripts.HEALTH_TIME + " "))
        combined = (output + ("\n" + err if err.strip() else "")).strip()
        return part, self.redact(combined)[-OUTPUT_TAIL:]

    # -- the steps -----------------------------------------------------------

    def inspect(self) -> HostReleases:
        result = self.run("inspect", hostscripts.inspect_script(self.app))
        return self._inspected(result)

    def _inspected(self, result: CommandResult) -> HostReleases:
        self.state.releases = parse_inspect(result.stdout.decode("utf-8", "replace"))
        self.state.previous = self.state.releases.current
        return self.state.releases

    def lock_and_inspect(self, command: str = "deploy") -> HostReleases:
        """Take the app's lock on the host and read its releases, in one remote command that then holds the
        lock for the rest of this connection: one deploy, rollback or undeploy of an app at a time. It is
        released when the runner ends, even when it is killed.

        The host's run lock is taken first, shared, in the same command (none of converge, setup ...
        meanwhile), unless this connection holds it already (setup's deploy: see runner.engine.hostlock)."""
        host_lock = "" if hostlock.held(self.conn) else hostlock.take_shell(
            hostlock.holder(f"{command} of {self.app}"), shared=True, quiet=True)
        script = hostscripts.inspect_script(self.app)
        if self.verbose:
            self.log(self.state.host, f"$ lock, inspect ({len(script)} bytes of sh):\n" + script)
        self.state.remote_commands += 1
        try:
            line, result, channel = run_script_locked(self.conn, script.encode(),
                                                      hostscripts.lock_shell(self.app, host_lock), new_token())
        except HostError as exc:
            raise StepFailed(self.state.host, "lock", self.redact(exc.message)) from None
        if result is None:
            if line.startswith(hostlock.BUSY):
                raise StepFailed(self.state.host, "lock", hostlock.busy_message(line))
            if hostscripts.IS_A_SYMLINK in line:  # a link planted at the lock (or its directory)
                raise StepFailed(self.state.host, "lock", self.redact(line))
            raise StepFailed(self.state.host, "lock", f"another deploy, rollback or undeploy of {self.app} is "
                             f"running on this host ({hostscripts.lock_path(self.app)} is held); "
                             "try again when it has ended")
        if channel is not None:
            self.state.lock = channel
        if line == hostscripts.NO_LOCK:
            self.log(self.state.host, "warning: no flock on this host: this run is not locked against others")
        if result.exit_status != 0:
            failed_step, output = self._failed_part(result, "inspect")
            raise StepFailed(self.state.host, failed_step, f"exit status {result.exit_status}", output)
        return self._inspected(result)

    def switch(self, release: str | None, metas: dict[str, dict[str, Any]], hook: str | None = None) -> None:
        self.run("switch", hostscripts.switch_script(self.app, release, metas, hook))

    def recipes(self, resources: list[Resource], options: HostOptions, wrap: Wrap | None = None) -> None:
        """Converge the deploy (or undeploy) recipes through the engine, over this connection."""
        runner = HostRunner(HostJob(self.state.host, resources, wrap=wrap), self.conn, options)
        try:
            outcome = runner.run()
        finally:
            self.state.remote_commands += runner.outcome.remote_commands
        if outcome.failed:
            switched = wrap is not None
            failed = [r for r in outcome.resources if r.status == FAILED and not r.ignored_failure]
            if failed:
                where = f" ({failed[0].location})" if failed[0].location else ""
                raise StepFailed(self.state.host, "recipes", f"{failed[0].key} failed{where}", failed[0].output,
                                 switched=switched)
            raise StepFailed(self.state.host, "recipes", outcome.error or "the recipes failed", switched=switched)

    def change(self, resources: list[Resource], options: HostOptions, wrap: Wrap,
               after_step: str = "hook:after_restart") -> str:
        """``wrap.before`` (stage, switch ...), the recipes, then ``wrap.after`` (hooks, health check,
        bookkeeping), in the recipes' probe and apply commands; ``after`` alone when nothing is to apply.
        Returns ``after``'s output. A failure raises StepFailed naming the step; its ``switched`` says
        whether ``before`` got to its end."""
        try:
            self.recipes(resources, options, wrap)
        except WrapFailed as exc:
            failed_step, output = self._failed_part(exc.result, "stage")
            raise StepFailed(self.state.host, failed_step, f"exit status {exc.result.exit_status}", output) from None
        if wrap.after_result is not None:
            result = wrap.after_result
            if result.exit_status != 0:
                failed_step, output = self._failed_part(result, after_step)
                raise StepFailed(self.state.host, failed_step, f"exit status {result.exit_status}", output,
                                 switched=True)
            return result.stdout.decode("utf-8", "replace")
        if wrap.after_script:
            try:
                return self.run(after_step, wrap.after_script).stdout.decode("utf-8", "replace")
            except StepFailed as exc:
                exc.switched = True
                raise
        return ""

    def health_check(self, command: str, attempts: int, interval: float, timeout: float) -> str:
        started = time.monotonic()
        try:
            result = self.run("health_check", hostscripts.health_script(command, attempts, interval, timeout))
        finally:
            self.state.health_seconds += time.monotonic() - started
        return result.stdout.decode("utf-8", "replace").strip()

    def finish(self, remove: list[str], entry: dict[str, Any]) -> None:
        self.run("finish", hostscripts.finish_script(self.app, remove, entry))

    def history(self) -> str:
        return self.run("history", hostscripts.history_script(self.app)).stdout.decode("utf-8", "replace")
