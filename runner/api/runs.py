"""Runs of recipes on instances: converge, setup, configure, execute_recipes, shutdown, and plans of them."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from runner.api.base import SessionBase
from runner.api.reports import LifecycleReport
from runner.deploy.join import setup_deploys
from runner.engine import hostlock
from runner.engine.host import HostOptions
from runner.engine.outcome import CHANGED, FAILED, OK, SKIPPED, HostOutcome
from runner.engine.redact import Redactor
from runner.engine.run import run_jobs
from runner.events import Progress, ResourceChanged
from runner.lifecycle import plan_run
from runner.model.lifecycle import SHUTDOWN
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
    """
    stack, registry = session.stack, session.registry
    states = session.states()
    group = HostGroup(online_targets(stack, states, names).values(), session.parallel)
    if command != SHUTDOWN:
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
    done = {o.host: o for o in plan.offline}

    def host_done(outcome: HostOutcome) -> None:
        session.host_finished(info, outcome.host, not outcome.failed, redact(host_line(outcome)))

    with group:
        for outcome in run_jobs(plan.jobs, group, options, on_done=host_done):
            done[outcome.host] = outcome
    report = LifecycleReport(name, stack.name, [done[n] for n in plan.order if n in done],
                             time.monotonic() - started, plan=plan_only, redact=redact)
    session.finished(info, report, report.seconds, {o.host: redact(host_line(o)) for o in report.hosts})
    return report
