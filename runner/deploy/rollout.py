"""A deployment or rollback of one app across its hosts: the :class:`~runner.strategies.api.Rollout`
that strategies drive.

Every host keeps one SSH connection for the whole run. Operations on a batch
run on its hosts in parallel; a host that fails is put back where it was (its
``current`` link and its running app) and is never touched again in the run,
and the other hosts go on.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import shlex
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.deploy import hostscripts
from runner.deploy.balancer import put_back_commands
from runner.deploy.host import DONE, FAILED_HOST, PENDING, REVERTED, SKIPPED, HostDeploy, HostSteps, StepFailed
from runner.deploy.releases import (
    DEPLOYED,
    FAILED,
    ROLLED_BACK,
    STAGED,
    HostReleases,
    Release,
    next_release_id,
    releases_to_remove,
)
from runner.engine.host import HostOptions
from runner.engine.redact import Redactor
from runner.engine.wrap import Wrap
from runner.errors import HostError
from runner.lifecycle import EventCompiler
from runner.model.stack import App, DeploySettings, Stack
from runner.recipes import DeploymentView, mark_sensitive
from runner.ssh.group import HostGroup
from runner.strategies import api as strategy_api


@dataclass
class BatchRecord:
    label: str
    hosts: list[str]
    seconds: float = 0.0
    health_seconds: float = 0.0
    failed: list[str] = field(default_factory=list)


@dataclass
class DrainedServer:
    """A server this run took out of the balancer and could not put back: what a person must fix."""

    server: str
    put_back: dict[str, str] = field(default_factory=dict)  # lb instance -> the command that puts it back


def environment_file(app: App) -> bytes:
    """The app's environment as ``NAME='value'`` lines: sourced by deploy hooks, read by systemd units."""
    return "".join(f"{name}={shlex.quote(env.value)}\n" for name, env in sorted(app.environment.items())).encode()


def who() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def log_fields(command: str, deployment_id: str, app: str, host: str, strategy: str, by: str) -> dict[str, Any]:
    """The fields every deployments.log line has (deploy, rollback and undeploy alike)."""
    return {"time": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "command": command,
            "deployment": deployment_id, "app": app, "host": host, "strategy": strategy, "who": by}


class Rollout(strategy_api.Rollout):
    """One run of ``runner deploy`` or ``runner rollback`` for one app: what a strategy drives.

    Its hosts are reached through ``group`` (one connection each, kept for the whole run).
    """

    def __init__(self, stack: Stack, app: App, command: str, settings: DeploySettings, hosts: Sequence[str],
                 group: HostGroup, compiler: EventCompiler, redact: Redactor,
                 log: Callable[[str, str], None], verbose: int = 0,
                 balancer: Any = None, source: Any = None):
        self.stack, self.app, self.command, self.settings = stack, app, command, settings
        self.group, self.compiler, self.redact = group, compiler, redact
        self.log_line, self.verbose = log, verbose
        self.balancer, self.source = balancer, source
        self.states: dict[str, HostDeploy] = {h: HostDeploy(h) for h in hosts}
        self.steps = {h: HostSteps(self.states[h], app.name, redact, log, verbose) for h in hosts}
        self.hosts: list[str] = list(hosts)
        self.release: str | None = None
        self.deployment_id = str(uuid.uuid4())
        self.who = who()
        self.started_at = _dt.datetime.now(_dt.UTC)
        self.failures = 0
        self.stopped: str | None = None
        self.drained: list[str] = []  # servers taken out of the balancer and not put back yet
        self.balancer_failed: str | None = None  # the balancer's first failure: nothing is drained after it
        self.batches: list[BatchRecord] = []
        self.timings: dict[str, float] = {}
        self.environment = environment_file(app)
        self.options = HostOptions(verbose=verbose, log=log, redact=redact)
        self._commands_at: dict[str, int] = {}  # each connection's commands_run when this run got it
        self._final = False  # the batch being changed is never undone: its hosts finish in its commands
        self._checked: set[str] = set()  # hosts whose health check ran in their change's command
        self._finished: set[str] = set()  # hosts whose keep_releases and log line were written with it
        self._health: dict[str, float] = {}  # seconds of the health check run in a host's change command

    # -- plumbing ------------------------------------------------------------------

    def say(self, message: str) -> None:
        self.log_line("", self.redact(message))

    def record(self, label: str, seconds: float) -> None:
        self.timings[label] = round(self.timings.get(label, 0.0) + seconds, 3)

    @property
    def has_balancer(self) -> bool:
        return self.balancer is not None

    def _live(self, batch: Sequence[str]) -> list[str]:
        return [h for h in batch if self.states[h].status in (PENDING, DONE)]

    def _parallel(self, batch: Sequence[str], work: Callable[[str], None]) -> list[str]:
        """Run ``work`` on each live host of ``batch`` at once; returns the hosts it failed on (recorded)."""

        def one(host: str) -> str | None:
            started = time.monotonic()
            try:
                work(host)
                return None
            except StepFailed as exc:
                self._fail(host, exc.step, exc.message, exc.output)
                return host
            finally:
                self.states[host].seconds += time.monotonic() - started

        return [h for h in self.group.map(one, self._live(batch)) if h]

    def _fail(self, host: str, step: str, message: str, output: str = "") -> None:
        state = self.states[host]
        if state.status in (FAILED_HOST, REVERTED):
            return
        state.status, state.step, state.error, state.output = FAILED_HOST, step, self.redact(message), output
        self.log_line(host, self.redact(f"failed at {step}: {message}"))

    def _meta(self, host: str, status: str) -> dict[str, Any]:
        return {**self.states[host].meta, "status": status}

    def _resources(self, host: str, release: str | None, event: str = "deploy"):
        """The layers' ``event`` recipes of ``host`` for this run (deploy: moving to ``release``)."""
        command = self.command if event == "deploy" else event
        view = DeploymentView(command, self.app.name, release, args={"deployment_id": self.deployment_id})
        resources = self.compiler.deployment(self.stack.instances[host], event, view)
        mark_sensitive(resources, set(self.redact.secrets))
        return resources

    # -- opening ---------------------------------------------------------------------

    def open(self) -> None:
        """Connect to every host and read its releases; unreachable hosts fail and leave the run."""

        def connect(host: str) -> None:
            self.log_line(host, "connecting")
            try:
                self.states[host].conn = conn = self.group.connect(host)
            except HostError as exc:
                raise StepFailed(host, "connect", self.redact(exc.message)) from None
            self._commands_at[host] = conn.commands_run
            self.steps[host].lock_and_inspect(self.command)

        self._parallel(self.hosts, connect)
        self.hosts = [h for h in self.hosts if self.states[h].status == PENDING]

    def close(self) -> None:
        self.count_commands()
        self.group.close()

    def count_commands(self) -> None:
        """Each host's remote commands in this run, from its connection's own counter."""
        for host, at in self._commands_at.items():
            conn = self.states[host].conn
            if conn is not None:
                self.states[host].remote_commands = conn.commands_run - at

    def choose_release(self) -> str:
        """The new release's id, the same on every host (see :func:`next_release_id`)."""
        existing = [r.id for h in self.hosts for r in self.states[h].releases.releases]
        self.release = next_release_id(self.started_at, existing)
        return self.release

    # -- the operations strategies combine ---------------------------------------

    def change(self, batch: Sequence[str]) -> list[str]:
        work = self._deploy_host if self.command == "deploy" else self._rollback_host
        return self._parallel(batch, work)

    def _deploy_host(self, host: str) -> None:
        """Stage the release and switch ``current`` to it in the recipes' probe command; the recipes; then
        after_restart, the health check and (in a batch never undone) keep_releases and the log line in
        their apply command: two or three remote commands."""
        assert self.release is not None and self.source is not None
        state, rid, source = self.states[host], self.release, self.source
        state.meta = self.release_meta()
        self.log_line(host, f"staging release {rid}, switching current to it")
        state.release = rid
        before = hostscripts.stage_script(self.app.name, rid, state.meta, len(self.environment),
                                          None if source.payload is None else len(source.payload),
                                          source.remote_script)
        before += hostscripts.switch_script(self.app.name, rid, {}, hook="before_restart")

        def after(output: str) -> str:
            checksum, revision = hostscripts.fetched(output)
            if checksum:
                state.meta["checksum"] = checksum
            if revision:
                state.meta["revision"] = revision
            return self._after_script(host, rid, {rid: self._meta(host, DEPLOYED)}, dict(state.meta))

        self._move(host, rid, Wrap(before, self.environment + (source.payload or b""), source.remote_script, after))
        state.meta["status"] = DEPLOYED

    def release_meta(self) -> dict[str, Any]:
        """The new release's .release.json as staged (stage adds what the host fetched)."""
        source = self.source
        return {"id": self.release, "app": self.app.name, "status": STAGED, "source": source.description,
                "revision": source.revision, "checksum": source.checksum, "deployment": self.deployment_id,
                "time": self.started_at.isoformat(timespec="seconds"), "who": self.who}

    def _rollback_host(self, host: str) -> None:
        state = self.states[host]
        current = state.releases.current
        target = state.releases.previous()
        if target is None:
            where = f"older than {current}" if current else "(nothing is deployed)"
            raise StepFailed(host, "rollback", f"no release {where} to roll back to; current is unchanged")
        state.release = target.id
        old = state.releases.get(current) if current else None
        metas = {current: {**(old.meta if old else {}), "status": ROLLED_BACK}} if current else {}
        self.log_line(host, f"switching current back from {current} to {target.id}")
        before = hostscripts.switch_script(self.app.name, target.id, metas, hook="before_restart")
        self._move(host, target.id, Wrap(before, after=lambda output: self._after_script(
            host, target.id, None, dict(target.meta))))
        state.meta = dict(target.meta)

    def _after_script(self, host: str, release: str, metas: dict[str, dict[str, Any]] | None,
                      meta: dict[str, Any]) -> str:
        """What follows a host's recipes: its after_restart hook (rewriting ``metas`` first), the health
        check if the app has one, and when the batch is never undone, keep_releases and the log line
        (``meta``: the release's .release.json for it)."""
        parts = [("hook:after_restart", hostscripts.hook_script(self.app.name, release, "after_restart", metas))]
        check = self.settings.health_check
        if check is not None:
            parts.append(("health_check", hostscripts.health_script(check.command, check.retries + 1,
                                                                    check.interval, check.timeout)))
        if self._final:
            remove = self._to_remove(host, release, meta) if self.command == "deploy" else []
            parts.append(("finish", hostscripts.finish_script(self.app.name, remove,
                                                               self.log_entry(host, DONE, meta))))
        return hostscripts.after_script(parts)

    def _to_remove(self, host: str, release: str, meta: dict[str, Any]) -> list[str]:
        """The releases keep_releases drops once ``host`` runs ``release``."""
        state = self.states[host]
        releases = [r for r in state.releases.releases if r.id != release]
        releases.append(Release(release, dict(meta)))
        after = HostReleases(tuple(sorted(releases, key=lambda r: r.id)), release)
        return releases_to_remove(after, self.settings.keep_releases, protect=[release])

    def _move(self, host: str, release: str, wrap: Wrap) -> None:
        """``wrap.before`` (which switches ``current`` to ``release`` and runs its before_restart hook) in the
        deploy recipes' probe command, the recipes (which restart the app), ``wrap.after`` (after_restart,
        health check, bookkeeping) in their apply command; the host is DONE. A failure is recorded, the host
        put back, and re-raised."""
        steps, state = self.steps[host], self.states[host]
        final = self._final
        try:
            self.log_line(host, "running the deploy recipes")
            output = steps.change(self._resources(host, release), self.options, wrap)
        except StepFailed as exc:
            if final and exc.step in ("keep_releases", "log"):  # the release is live; its bookkeeping failed
                self._finished.add(host)
                state.status, state.step, state.error, state.output = FAILED_HOST, exc.step, exc.message, exc.output
                self.log_line(host, self.redact(f"failed at {exc.step}: {exc.message}"))
                raise
            # before_restart runs once current has moved; a failure after the switch is switched too
            self._fail(host, exc.step, exc.message, exc.output)
            self._put_back(host, exc.switched or exc.step == "hook:before_restart")
            raise
        if self.settings.health_check is not None:
            self._checked.add(host)
            seconds = hostscripts.health_seconds(output)
            self._health[host] = seconds
            state.health_seconds += seconds
            healthy = [line for line in output.splitlines() if line.startswith("healthy after")]
            self.log_line(host, "health check: " + (healthy[-1] if healthy else "healthy"))
        if final:
            self._finished.add(host)
        state.status = DONE

    def _put_back(self, host: str, switched: bool) -> None:
        """Undo a host's change: ``current`` back to where it was and the app restarted on it."""
        state, steps = self.states[host], self.steps[host]
        previous = state.previous
        try:
            if self.command == "deploy":
                metas = {state.release: self._meta(host, FAILED)} if state.release else {}
            else:
                old = state.releases.get(previous) if previous else None
                metas = {previous: {**(old.meta if old else {}), "status": DEPLOYED}} if previous else {}
            steps.switch(previous, metas)
            if switched and previous is not None:
                steps.recipes(self._resources(host, previous), self.options)
            elif switched:  # there was no release before: back to not deployed, so the app must stop
                steps.recipes(self._resources(host, None, "undeploy"), self.options)
            self.log_line(host, f"put back on {previous or 'no release'}")
        except StepFailed as exc:
            state.error = f"{state.error}; putting it back failed too: {exc.step}: {exc.message}"
            state.status = FAILED_HOST
            return
        state.status = REVERTED if switched else FAILED_HOST

    def revert(self, batch: Sequence[str]) -> None:
        hosts = [h for h in batch if self.states[h].status == DONE]

        def undo(host: str) -> None:
            self._put_back(host, switched=True)
            if self.states[host].status == REVERTED and not self.states[host].error:
                self.states[host].error = "put back: " + (self.stopped or "its batch failed")

        self._parallel(hosts, undo)

    def health_check(self, batch: Sequence[str]) -> list[str]:
        """The health check on the hosts of ``batch`` that are DONE, but for those whose change ran it."""
        check = self.settings.health_check
        hosts = [h for h in batch if self.states[h].status == DONE and h not in self._checked]
        if check is None or not hosts:
            return []

        def one(host: str) -> None:
            self.log_line(host, "health check")
            message = self.steps[host].health_check(check.command, check.retries + 1, check.interval, check.timeout)
            self.log_line(host, message.splitlines()[-1] if message else "healthy")

        failed = self._parallel(hosts, one)
        # an unhealthy host runs the new release: put it back (its failure stays recorded as health_check)
        self.group.map(lambda host: self._put_back(host, switched=True), failed)
        return failed

    def _balancer_call(self, action: str, hosts: list[str]) -> list[str]:
        """``drain`` or ``enable`` on the balancer; when it fails, those hosts fail and it is remembered
        in :attr:`balancer_failed` (:meth:`step` stops the run, :meth:`drain` drains nothing more)."""
        if self.balancer is None or not hosts:
            return []
        self.say(f"load balancer: {action} {', '.join(hosts)}")
        if action == "drain":  # before the call: a failed drain may have taken some of them out already
            self.drained += [h for h in hosts if h not in self.drained]
        try:
            getattr(self.balancer, action)(hosts)
        except Exception as exc:  # a balancer plugin's failure is the run's failure, not a crash
            self.balancer_failed = self.balancer_failed or self.redact(str(exc))
            for host in hosts:
                self._fail(host, f"balancer:{action}", str(exc))
            return hosts
        if action == "enable":
            self.drained = [h for h in self.drained if h not in hosts]
        return []

    def drain(self, batch: Sequence[str]) -> list[str]:
        hosts = self._live(batch)
        if self.balancer is not None and self.balancer_failed and hosts:
            # the balancer failed earlier in this run: taking more servers out could leave it none
            for host in hosts:
                self._fail(host, "balancer:drain", f"not drained: the load balancer failed earlier: "
                                                   f"{self.balancer_failed}")
            return hosts
        return self._balancer_call("drain", hosts)

    def enable(self, batch: Sequence[str]) -> list[str]:
        # a host put back runs its old release again: it serves too; one whose drain failed may be half out
        return self._balancer_call("enable", [h for h in batch if self.states[h].status in (PENDING, DONE, REVERTED)
                                              or (h in self.drained and self.states[h].step == "balancer:drain")])

    def still_drained(self) -> list[DrainedServer]:
        """The servers this run took out of the balancer and left out, each with the command that puts
        it back; [] when the run went well (a strategy may leave servers out on purpose: blue/green's
        idle colour)."""
        if self.balancer is None or not self.drained:
            return []
        if not self.stopped and not any(s.failed for s in self.states.values()):
            return []
        left = [h for h in self.states if h in self.drained]
        return [DrainedServer(h, put_back_commands(self.balancer, [h])) for h in left]

    def balancer_states(self) -> dict[str, str]:
        if self.balancer is None:
            return {}
        return dict(self.balancer.states())

    def step(self, batch: Sequence[str], undo_batch: bool = True, label: str | None = None,
             balancer: bool = True) -> bool:
        record = BatchRecord(label or f"batch {len(self.batches) + 1}", list(batch))
        self.batches.append(record)
        started = time.monotonic()
        failed = self.drain(batch) if balancer else []
        # a batch never undone (and not put back into a balancer after) finishes in its hosts' commands
        self._final = not undo_batch and not (balancer and self.balancer is not None)
        try:
            failed += self.change(batch)
        finally:
            self._final = False
        health_started = time.monotonic()
        failed += self.health_check(batch)
        in_change = max((self._health.get(h, 0.0) for h in batch), default=0.0)
        record.health_seconds = (time.monotonic() - health_started + in_change) if self.settings.health_check \
            else 0.0
        self.failures += len(failed)
        record.failed = sorted(set(failed))
        go_on = self.failures <= self.settings.max_failures and not self.balancer_failed
        if not go_on and undo_batch:
            self.stopped = self.stopped or (f"{record.label}: the load balancer failed: {self.balancer_failed}"
                                            if self.balancer_failed else f"{record.label} failed")
            self.revert(batch)
        if balancer:
            not_back = self.enable(batch)
            if not_back:  # a batch that did not rejoin the balancer failed: draining the next could empty it
                self.failures += len(set(not_back) - set(failed))
                record.failed = sorted(set(failed) | set(not_back))
                self.stopped = self.stopped or (f"{record.label}: the load balancer did not take "
                                                f"{', '.join(not_back)} back; nothing more was drained")
                go_on = False
        record.seconds = time.monotonic() - started
        return go_on

    def stop(self, reason: str) -> None:
        self.stopped = self.stopped or reason
        for host in self.hosts:
            state = self.states[host]
            if state.status == PENDING:
                state.status, state.error = SKIPPED, f"not deployed: {reason}"
        self.say(f"stopped: {reason}")

    # -- finishing ---------------------------------------------------------------------

    def log_entry(self, host: str, status: str | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """The host's deployments.log line; ``status`` and ``meta`` stand for its own (a line written before
        the run ends, in the command that completes the host)."""
        state = self.states[host]
        status = state.status if status is None else status
        meta = state.meta if meta is None else meta
        entry = {**log_fields(self.command, self.deployment_id, self.app.name, host, self.settings.strategy,
                              self.who), "release": state.release, "previous": state.previous,
                 "revision": meta.get("revision"), "checksum": meta.get("checksum"),
                 "source": meta.get("source"), "result": "ok" if status == DONE else "failed"}
        if status != DONE:
            entry.update(step=state.step, error=state.error)
        return entry

    def finish(self) -> None:
        """Keep ``keep_releases`` on every host that took the new release, and log the run on every host touched."""

        def one(host: str) -> None:
            state = self.states[host]
            remove: list[str] = []
            if self.command == "deploy" and state.status == DONE and state.release:
                remove = self._to_remove(host, state.release, state.meta)
            started = time.monotonic()
            try:
                self.steps[host].finish(remove, self.log_entry(host))
            except StepFailed as exc:
                if state.status == DONE:  # the release is live, but its bookkeeping failed: say so
                    state.status, state.step, state.error, state.output = FAILED_HOST, exc.step, exc.message, exc.output
            finally:
                state.seconds += time.monotonic() - started

        def finished(host: str, state: HostDeploy) -> bool:
            """It finished in its change's command, and was not put back since (then it says so now)."""
            return host in self._finished and (state.status == DONE or state.step in ("keep_releases", "log"))

        self.group.map(one, [h for h, s in self.states.items()
                             if s.status in (DONE, FAILED_HOST, REVERTED) and s.conn is not None and s.release
                             and not finished(h, s)])
