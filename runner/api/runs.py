"""Runs of recipes on instances: converge, setup, configure, execute_recipes, shutdown, and plans of them."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

from runner.api import setup_record
from runner.api.base import SessionBase
from runner.api.reports import LifecycleReport
from runner.deploy.join import setup_deploys
from runner.engine import hostlock
from runner.engine.executor import DEFAULT_EXECUTOR, Executor
from runner.engine.host import HostJob, HostOptions
from runner.engine.outcome import CHANGED, FAILED, NOT_RUN, OK, SKIPPED, HostOutcome
from runner.engine.redact import Redactor
from runner.events import Progress, ResourceChanged
from runner.lifecycle import RunPlan, plan_run
from runner.model.lifecycle import CONVERGE, SETUP, SHUTDOWN
from runner.model.stack import Stack
from runner.providers.api import InstanceState
from runner.ssh.group import HostGroup
from runner.ssh.target import SshTarget, resolve_target


def online_targets(stack: Stack, states: Sequence[InstanceState], names: Sequence[str]) -> dict[str, SshTarget]:
    """The SSH targets of the named instances that are online, in ``names`` order."""
    by_name = {s.name: s for s in states}
    return {n: resolve_target(stack, by_name[n].host) for n in names if n in by_name and by_name[n].online}


def host_line(outcome: HostOutcome) -> str:
    """One line saying how a host's run ended (the live line after it)."""
    if outcome.error:
        return f"FAILED: {outcome.error}"
    failed, skipped = outcome.count(FAILED), outcome.count(SKIPPED)
    head = "FAILED" if outcome.failed else "done"
    return (f"{head}: {outcome.count(CHANGED)} changed, {outcome.count(OK)} ok"
            + (f", {skipped} skipped" if skipped else "") + (f", {failed} failed" if failed else "")
            + (f", {outcome.ignored} ignored" if outcome.ignored else "")
            + f" ({outcome.seconds:.1f} s)")


def run_recipes(session: SessionBase, command: str, names: list[str], *,
                custom_json: Mapping[str, Any] | None = None, recipes: Sequence[str] = (),
                plan_only: bool = False) -> LifecycleReport:
    """Compile ``command``'s resources for the named instances, then run them on each host in parallel.

    A recipe or template error raises UserError before any host is touched.
    Hosts are connected (up to ``parallel``) while the recipes compile;
    shutdown runs use their own targets (commands bounded by shutdown_timeout).
    The hosts' jobs run on the session's executor (``session.executor``, a URL; default
    ``local``: threads of this process); everything else stays here.
    """
    url = session.executor or DEFAULT_EXECUTOR
    executor: Executor = session.registry.executor(url)(url, session.parallel)
    executor.open()  # an executor that cannot start (a cluster not answering) stops the run here
    try:
        return _run_recipes(session, executor, command, names, custom_json=custom_json, recipes=recipes,
                            plan_only=plan_only)
    finally:
        executor.close()


def _run_recipes(session: SessionBase, executor: Executor, command: str, names: list[str], *,
                 custom_json: Mapping[str, Any] | None, recipes: Sequence[str], plan_only: bool) -> LifecycleReport:
    stack, registry = session.stack, session.registry
    states = session.states()
    group = HostGroup(online_targets(stack, states, names).values(), session.parallel)
    if command != SHUTDOWN and executor.connects_here:
        group.connect_in_background(names)
    try:
        plan = plan_run(stack, registry, command, names, dict(custom_json or {}), recipes, states,
                        setup_deploys=setup_deploys)
    except BaseException:
        group.close()
        raise
    if command == SHUTDOWN:
        group = HostGroup(plan.targets.values(), session.parallel)
    redact = Redactor(plan.secrets)

    def log(host: str, line: str) -> None:
        session.emit(Progress(host, redact(line)))

    def changed(host: str, key: str, summary: str) -> None:
        session.emit(ResourceChanged(host, key, summary))
        registry.notify("runner_resource_changed", host=host, resource=key, summary=summary)

    name = "plan" if plan_only else command
    info = session.started(name, names)
    started = time.monotonic()
    options = HostOptions(plan=plan_only, verbose=session.verbose, log=log, on_changed=changed, redact=redact,
                          lock=None if plan_only else hostlock.holder(command))  # a plan touches nothing
    setting_up: set[str] = set()  # the hosts whose setup began in this run
    record = setup_record.for_stack(stack) if command in (CONVERGE, SETUP) and not plan_only else None
    if record is not None:
        retry_failed_setups(plan, record, log)
        marks = setup_record.RunningMarks(record)

        def setup_starts(host: str) -> None:  # called from the host's worker thread (or an executor's replay)
            setting_up.add(host)
            _remember(log, host, lambda: marks.mark(host))
        options.on_setup = setup_starts
    done = {o.host: o for o in plan.offline}

    def host_done(outcome: HostOutcome) -> None:
        session.host_finished(info, outcome.host, not outcome.failed, redact(host_line(outcome)))

    try:
        with group:
            for outcome in executor.run(plan.jobs, group, options, on_done=host_done):
                done[outcome.host] = outcome
    finally:
        if record is not None:
            failures, succeeded = setup_results(plan.jobs, done, setting_up, redact)
            if failures or succeeded:
                _remember(log, "", lambda: record.settle(failures, succeeded))
    report = LifecycleReport(name, stack.name, [done[n] for n in plan.order if n in done],
                             time.monotonic() - started, plan=plan_only, redact=redact)
    session.finished(info, report, report.seconds, {o.host: redact(host_line(o)) for o in report.hosts})
    return report


def retry_failed_setups(plan: RunPlan, record: setup_record.SetupRecord, log) -> None:
    """A converge sets up again the hosts whose last setup failed here, marker or not.

    The marker is only written by a setup that succeeded, so a first setup that
    failed is retried anyway; this also covers a host set up before whose
    setup was run again and failed (its old marker is still there).
    """
    entries = record.entries() if plan.jobs else {}
    for i, job in enumerate(plan.jobs):
        if job.setup_marker and job.name in entries:
            log(job.name, f"its last setup did not succeed ({entries[job.name].status}): setup runs again")
            plan.jobs[i] = dataclasses.replace(job, setup_marker=None)


def setup_results(jobs: Sequence[HostJob], done: Mapping[str, HostOutcome], started: set[str],
                  redact: Redactor) -> tuple[dict[str, str], list[str]]:
    """From the hosts' outcomes: (host -> why its setup failed, the hosts whose setup succeeded).

    A setup succeeded when its marker (the last thing it writes) was written or
    found up to date and everything before it ran without failing. A host whose
    setup never began (``started``: the engine's on_setup was not called: only
    configured, not reached, or locked by another run) is in neither: its
    record stays as it was. A host whose setup began and whose run ended
    without an outcome (interrupted) failed.
    """
    failures: dict[str, str] = {}
    succeeded: list[str] = []
    for job in jobs:
        outcome = done.get(job.name)
        if job.setup_resources is None or not job.setup_finish:
            continue
        if job.name not in started:
            continue  # its setup never began (only configured, not reached, or another run holds the host)
        if outcome is None:
            failures[job.name] = "the run ended before its setup finished"
            continue
        problem = _setup_problem(outcome, redact(job.setup_finish[-1].key))
        if problem is None:
            succeeded.append(job.name)
        else:
            failures[job.name] = redact(problem)
    return failures, succeeded


def _setup_problem(outcome: HostOutcome, marker: str) -> str | None:
    """Why the setup part of a host's outcome did not succeed, or None when it did.

    Resources are reported in order (setup, what the setup deployed, the marker, then the
    configure part), and one that had nothing to do reads ``ok`` even when an earlier one
    failed: so the marker being ``ok`` is not enough, nothing before it may have failed.
    """
    at = next((i for i, r in enumerate(outcome.resources) if r.key == marker), None)
    if at is None or outcome.resources[at].status not in (OK, CHANGED):
        bad = next((r for r in outcome.resources if r.status == FAILED and not r.ignored_failure), None)
        return outcome.error or (f"{bad.key} failed" if bad else "setup did not finish")
    for r in outcome.resources[:at]:
        if (r.status == FAILED and not r.ignored_failure) or r.status == NOT_RUN:
            return f"{r.key} failed" if r.status == FAILED else outcome.error or f"{r.key} did not run"
    return None


def _remember(log, host: str, write) -> None:
    """Write the setup record; a state dir that cannot be written costs a warning, never the run."""
    try:
        write()
    except OSError as exc:
        log(host, f"warning: cannot update the setup record: {exc}")
