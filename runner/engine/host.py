"""One host's run: probe everything in one command, diff locally, apply what differs in one more."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runner.engine import hostlock
from runner.engine.apply import AheadRun, build_apply_script, parse_apply_output, running_entry
from runner.engine.outcome import (
    CHANGED,
    FAILED,
    NOT_RUN,
    OK,
    SKIPPED,
    WOULD_CHANGE,
    HostOutcome,
    ResourceOutcome,
)
from runner.engine.probe import (
    ProbeParseError,
    build_probe_script,
    build_setup_probe,
    guard_shell,
    new_token,
    parse_probe_output,
)
from runner.engine.redact import Redactor
from runner.engine.wire import NO_LOCK, NO_SETSID, run_script, run_script_locked
from runner.engine.wrap import Wrap, apply_with_after, probe_with_before, split_after, split_before
from runner.errors import HostError
from runner.resources.api import Change, Resource, Step
from runner.ssh.api import CommandCutOff
from runner.ssh.api import Transport as Connection


@dataclass
class HostJob:
    """What to do on one host.

    ``resources`` always run. When ``setup_resources`` is given, the host is set
    up first: always when ``setup_marker`` is None, else only when the probe
    (the same one command) finds ``setup_marker`` missing on the host (OpsWorks'
    setup before configure). Setup is ``setup_resources``, then ``after_setup``
    (called with the open connection, e.g. to deploy the apps), then
    ``setup_finish`` (the marker). When ``after_setup`` fails, ``setup_finish``
    and ``resources`` are not applied, so the next run sets the host up again.
    """

    name: str
    resources: list[Resource]
    setup_resources: list[Resource] | None = None
    setup_marker: str | None = None
    setup_finish: list[Resource] = field(default_factory=list)
    after_setup: AfterSetup | None = None
    #: shell that shares the probe's and the apply's commands (a deploy's steps: runner.engine.wrap);
    #: only for a job without setup
    wrap: Wrap | None = None


@dataclass
class HostOptions:
    plan: bool = False  # probe and diff only: touch nothing
    verbose: int = 0
    log: Callable[[str, str], None] = lambda host, line: None  # live lines and -v output
    on_changed: Callable[[str, str, str], None] = lambda host, key, summary: None
    #: called with the host's name when its setup is about to be applied (never in a plan): the
    #: probe found no setup marker, or the job always sets up
    on_setup: Callable[[str], None] = lambda host: None
    redact: Redactor = field(default_factory=Redactor)
    #: who takes the host's run lock (hostlock.holder), in the probe's command; None: take no lock
    lock: str | None = None


#: What runs between a host's setup resources and its setup marker: it may append to the host's outcome and
#: raises HostError when it fails. It is never called in a plan.
AfterSetup = Callable[[Connection, HostOptions, HostOutcome], None]


class _BrokenResource(Exception):
    """A resource type failed on its own probe output: a bug in that type, reported on its host."""


class HostRunner:
    def __init__(self, job: HostJob, conn: Connection, options: HostOptions):
        self.job = job
        self.conn = conn
        self.opts = options
        self.outcome = HostOutcome(job.name)
        self.applying = False  # the apply script was sent and has not come back: the host is half-converged

    # -- helpers -----------------------------------------------------------

    def _key(self, resource: Resource) -> str:
        """The resource's ``type[name]`` as reported: an execute's name is its command, which may hold a secret."""
        return self.opts.redact(resource.key)

    def _show(self, resource: Resource, text: str) -> str:
        if resource.sensitive and text:
            return "(output hidden: sensitive resource)"
        return self.opts.redact(text)

    def _changes_shown(self, resource: Resource, changes: list[Change]) -> list[Change]:
        if resource.sensitive:
            return [Change(c.summary) for c in changes]
        return [Change(self.opts.redact(c.summary), self.opts.redact(c.diff) if c.diff else None) for c in changes]

    def _verbose(self, label: str, script: bytes) -> None:
        if self.opts.verbose:
            text = script.decode("utf-8", "replace")
            wrap = self.job.wrap
            if wrap is not None and wrap.hide:
                text = text.replace(wrap.hide, "(hidden)")
            self.opts.log(self.job.name, f"$ {label} ({len(script)} bytes of sh):\n" + self.opts.redact(text))

    def _send_probe(self, script: bytes):
        wrap = self.job.wrap
        if wrap is not None and wrap.before:
            script = probe_with_before(wrap, script.decode()).encode()
        self._verbose("probe", script)
        try:
            if wrap is not None and wrap.before:
                result = split_before(wrap, run_script(self.conn, script, wrap.stdin))
                self.outcome.remote_commands += 1
            elif self.opts.lock is None or hostlock.held(self.conn):
                result = run_script(self.conn, script)
                self.outcome.remote_commands += 1
            else:
                result = self._send_locked(script)
        except CommandCutOff as exc:
            raise exc.during("the probe") from None
        if NO_SETSID.encode() in result.stderr:
            self.opts.log(self.job.name, "warning: no setsid on this host: a step that is under way when "
                          "the runner dies goes on running")
        return result

    def _send_locked(self, script: bytes):
        """The probe in the command that takes the host lock and then holds it (still one command)."""
        take = hostlock.take_shell(self.opts.lock or "")
        line, result, channel = run_script_locked(self.conn, script, take, new_token())
        self.outcome.remote_commands += 1
        if result is None:
            raise HostError(self.job.name, hostlock.busy_message(line), "locked")
        if channel is not None:
            hostlock.keep(self.conn, channel)
            self._took_lock = True
        if line == NO_LOCK:
            self.opts.log(self.job.name, "warning: no flock on this host: this run is not locked against others")
        return result

    def _parse(self, result, token: str, resources: list[Resource]):
        try:
            return parse_probe_output(result.stdout.decode("utf-8", "replace"), token, resources)
        except ProbeParseError as exc:
            detail = self.opts.redact(result.stderr.decode("utf-8", "replace").strip()[-500:])
            raise HostError(self.job.name, f"{exc}; exit status {result.exit_status}; {detail}", "probe") from None

    def _diff(self, resources: list[Resource], probe) -> list[tuple[Any, list[Change]]]:
        diffs = []
        for i, resource in enumerate(resources):
            try:
                state = resource.parse(probe.outputs[i])
                changes = resource.diff(state)
            except Exception as exc:
                raise _BrokenResource(f"{self._key(resource)}: the {resource.type_name} type failed on its probe "
                                      f"output: {type(exc).__name__}: {exc}") from exc
            diffs.append((state, changes))
        return diffs

    # -- the run -------------------------------------------------------------

    def run(self) -> HostOutcome:
        started = time.monotonic()
        self._took_lock = False
        try:
            self._run()
        except HostError as exc:
            self.outcome.error, self.outcome.cause = exc.message, exc.cause
        except _BrokenResource as exc:
            self.outcome.error, self.outcome.cause = str(exc), "resource-type"
        finally:
            if self._took_lock:
                hostlock.release(self.conn)
        self.outcome.seconds = time.monotonic() - started
        return self.outcome

    def _probe(self, resources: list[Resource]):
        token = new_token()
        return self._parse(self._send_probe(build_probe_script(resources, token).encode()), token, resources)

    def _probe_with_setup(self, resources: list[Resource], setup: list[Resource], marker: str):
        """One probe for both cases: (the resources to apply, setup first when never set up; their probe).

        The script and the raw output are dropped on return, before the host's apply is built."""
        self.opts.log(self.job.name, f"probing {len(resources)} resources (and {len(setup)} of setup, "
                                     "if never set up)")
        configured, fresh = new_token(), new_token()
        result = self._send_probe(build_setup_probe(resources, setup, marker, configured, fresh).encode())
        if f"{fresh}:done".encode() not in result.stdout:
            return resources, self._parse(result, configured, resources)
        self.outcome.ran_setup = True
        self.opts.log(self.job.name, "never set up: setup runs first")
        self._setup_starts()
        resources = setup + resources
        return resources, self._parse(result, fresh, resources)

    def _run(self) -> None:
        job = self.job
        resources = list(job.resources)
        setup = [*(job.setup_resources or []), *job.setup_finish]
        if job.setup_resources is None:
            self.opts.log(job.name, f"probing {len(resources)} resources")
            probe = self._probe(resources)
        elif not job.setup_marker:
            self.outcome.ran_setup = True
            resources = setup + resources
            self.opts.log(job.name, f"probing {len(resources)} resources (setup first)")
            probe = self._probe(resources)
            self._setup_starts()  # the probe took the host's lock: the setup is this run's now
        else:
            resources, probe = self._probe_with_setup(resources, setup, job.setup_marker)
        diffs = self._diff(resources, probe)
        if not (self.outcome.ran_setup and job.after_setup is not None and not self.opts.plan):
            self._apply(resources, probe, diffs)
            return
        # setup resources, then after_setup, then the marker and the rest, probed again (after_setup changed
        # the host, and the marker must not be written if it failed)
        count = len(job.setup_resources or [])
        head, rest = resources[:count], resources[count:]
        self._apply(head, probe, diffs[:count])
        if self.outcome.failed:
            self._not_run(rest)
            return
        before = self.conn.commands_run
        try:
            job.after_setup(self.conn, self.opts, self.outcome)
        except HostError:
            self._not_run(rest)
            raise
        finally:
            self.outcome.remote_commands += self.conn.commands_run - before
        if self.outcome.failed:
            self._not_run(rest)
            return
        self.opts.log(job.name, f"probing {len(rest)} resources (the setup marker and the rest)")
        probe = self._probe(rest)
        self._apply(rest, probe, self._diff(rest, probe))

    def _setup_starts(self) -> None:
        if not self.opts.plan:
            self.opts.on_setup(self.job.name)

    def _not_run(self, resources: list[Resource]) -> None:
        for resource in resources:
            self.outcome.resources.append(ResourceOutcome(self._key(resource), NOT_RUN,
                                                          location=resource.source_location))

    def _apply(self, resources: list[Resource], probe, diffs) -> None:
        # which resources take part: changed ones whose guards allow them now, and, once
        # something changes, guarded ones that were skipped (their guard may flip by then)
        included: list[int] = []
        skipped: set[int] = set()
        for i, (_state, changes) in enumerate(diffs):
            allowed = probe.guards.get(i, True)
            if changes and (allowed or included):
                included.append(i)
            elif changes and not allowed:
                skipped.add(i)

        if self.opts.plan or not included:
            for i, resource in enumerate(resources):
                changes = diffs[i][1]
                status = SKIPPED if i in skipped else (WOULD_CHANGE if i in included and self.opts.plan else OK)
                shown = self._changes_shown(resource, changes) if status == WOULD_CHANGE else []
                self.outcome.resources.append(ResourceOutcome(self._key(resource), status, shown,
                                                              location=resource.source_location))
            wrap = self.job.wrap
            if wrap is not None and wrap.after is not None and not self.opts.plan:
                wrap.after_script = wrap.after(wrap.before_output)  # nothing to apply: the caller runs it
            return

        steps = self._steps(resources, diffs, included)
        token = new_token()
        apply = build_apply_script(resources, steps, token, aheads(resources, diffs, included))
        entries = [indices for indices, _step in steps]  # the steps' scripts are in the apply script now
        del steps
        script, wrap = apply.script, self.job.wrap
        after = wrap.after(wrap.before_output) if wrap is not None and wrap.after is not None else None
        if wrap is not None:
            wrap.after_script = after
        if after:
            script = apply_with_after(script, after, wrap)
        self._verbose("apply", script)
        self.opts.log(self.job.name, f"applying {len(included)} of {len(resources)} resources")
        self.applying = True
        try:
            result = run_script(self.conn, script, apply.payload_chunks(), apply.payload_size)
            if after:
                result = split_after(wrap, result)
        except CommandCutOff as exc:  # say which resource was running, and record those that were done
            self.outcome.remote_commands += 1
            text = exc.output.decode("utf-8", "replace")
            self._record(resources, diffs, entries, included, parse_apply_output(text, token)[0])
            raise exc.during(self._entry_name(resources, running_entry(text, token))) from None
        self.applying = False
        self.outcome.remote_commands += 1
        outcomes, finished = parse_apply_output(result.stdout.decode("utf-8", "replace"), token)
        self._record(resources, diffs, entries, included, outcomes)
        if not finished and not any(r.status == FAILED for r in self.outcome.resources):
            detail = self.opts.redact(result.stderr.decode("utf-8", "replace").strip()[-500:])
            raise HostError(self.job.name, f"the apply script stopped early (exit status "
                            f"{result.exit_status}){': ' + detail if detail else ''}", "apply")

    def _entry_name(self, resources: list[Resource], entry_id: str | None) -> str:
        """What an apply script's entry stands for: ``type[name]``, a batch's keys, or a notified action."""
        if entry_id is None:
            return "the apply script (before its first resource)"
        if entry_id.startswith("notify:"):
            _, target, action = entry_id.split(":", 2)
            return f"{self._key(resources[int(target)])} ({action})"
        return ", ".join(self._key(resources[int(i)]) for i in entry_id.split(","))

    def _steps(self, resources, diffs, included) -> list[tuple[tuple[int, ...], Step]]:
        """Steps in order; every batchable type's resources become one step at its first position."""
        steps: list[tuple[tuple[int, ...], Step]] = []
        batched: set[str] = set()
        for i in included:
            resource = resources[i]
            cls = type(resource)
            if cls.batchable:
                if cls.type_name in batched:
                    continue
                batched.add(cls.type_name)
                members = [j for j in included if type(resources[j]) is cls]
                step = cls.apply_batch([(resources[j], diffs[j][0], diffs[j][1]) for j in members])
                steps.append((tuple(members), step))
            else:
                steps.append(((i,), resource.apply(diffs[i][0], diffs[i][1])))
        return steps

    def _record(self, resources, diffs, entries: list[tuple[int, ...]], included, outcomes) -> None:
        """The outcome of every resource; ``entries``: the resources of each block of the apply script."""
        by_index: dict[int, Any] = {}
        for indices in entries:
            entry = outcomes.get(",".join(map(str, indices)))
            for i in indices:
                by_index[i] = entry
        for i, resource in enumerate(resources):
            changes = self._changes_shown(resource, diffs[i][1])
            if i not in by_index:
                status = SKIPPED if diffs[i][1] and i not in included else OK
                self.outcome.resources.append(ResourceOutcome(self._key(resource), status,
                                                              location=resource.source_location))
                continue
            entry = by_index[i]
            if entry is None:
                self.outcome.resources.append(ResourceOutcome(self._key(resource), NOT_RUN, changes,
                                                              location=resource.source_location))
                continue
            status = {"changed": CHANGED, "unchanged": OK, "failed": FAILED, "skipped": SKIPPED}[entry.status]
            out = ResourceOutcome(self._key(resource), status, changes if status == CHANGED else [],
                                  self._show(resource, entry.output) if status == FAILED else "",
                                  resource.source_location, status == FAILED and resource.ignore_failure)
            self.outcome.resources.append(out)
            if status == CHANGED:
                summary = "; ".join(c.summary for c in out.changes) or "changed"
                self.opts.on_changed(self.job.name, self._key(resource), summary)
        for entry_id, entry in outcomes.items():
            if entry_id.startswith("notify:"):
                _, target, action = entry_id.split(":", 2)
                resource = resources[int(target)]
                status = {"changed": CHANGED, "unchanged": OK, "failed": FAILED, "skipped": SKIPPED}[entry.status]
                self.outcome.resources.append(ResourceOutcome(
                    f"{self._key(resource)} ({action})", status, [Change(action)] if status == CHANGED else [],
                    self._show(resource, entry.output) if status == FAILED else "", resource.source_location))
                if status == CHANGED:
                    self.opts.on_changed(self.job.name, self._key(resource), action)


def aheads(resources: list[Resource], diffs: list[tuple[Any, list[Change]]], included: list[int]) -> list[AheadRun]:
    """What the types of runs of consecutive included resources do at once (Resource.apply_ahead).

    A run holds resources of one type that says :attr:`~Resource.ahead`,
    without guards (evaluated only when a resource's turn comes), and ends
    after a resource that notifies immediately (its action runs before the
    next resource's turn).
    """
    runs: list[list[int]] = []
    for i in included:
        resource = resources[i]
        cls = type(resource)
        if not cls.ahead or cls.batchable or guard_shell(resource) is not None:
            runs.append([])
            continue
        last = runs[-1][-1] if runs and runs[-1] else None
        if last is not None and type(resources[last]) is cls and not any(
                n.timing == "immediately" for n in resources[last].notifies):
            runs[-1].append(i)
        else:
            runs.append([i])
    out: list[AheadRun] = []
    for run in runs:
        if len(run) < 2:
            continue
        cls = type(resources[run[0]])
        taken: set[int] = set()
        for ahead in cls.apply_ahead([(resources[j], diffs[j][0], diffs[j][1]) for j in run]):
            members = ahead.members
            if (len(members) < 2 or len(ahead.done) != len(members) or members[0] < 0 or members[-1] >= len(run)
                    or list(members) != list(range(members[0], members[0] + len(members))) or taken & set(members)):
                raise ValueError(f"{cls.type_name}.apply_ahead: members must be two or more consecutive positions "
                                 f"of the run, in no other ahead, with one done condition each; got {members}")
            taken.update(members)
            out.append(AheadRun(tuple(run[k] for k in members), ahead.script, ahead.done))
    return out
