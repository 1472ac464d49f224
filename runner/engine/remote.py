"""Running one host's job in another process (a cluster's worker), and replaying it on the controller.

What crosses to the worker is a :class:`RemoteJob`: the compiled
:class:`~runner.engine.host.HostJob` (resources with their templates rendered
and their contents read), the host's :class:`~runner.ssh.target.SshTarget`
and the plain options of the run. Callbacks cannot cross: on the worker
:func:`run_remote` writes down every log line, changed resource and the start
of a setup in order, and returns them with the outcome as a
:class:`RemoteResult`; :func:`replay` calls the controller's callbacks with
them. An executor plugin ships :func:`run_remote` (or a function that calls
it) to its workers, which need runner and the stack's plugins installed.

A job whose setup deploys apps (``after_setup``) holds the run's view of the
apps' fleets, shared by every host joining in the run: it cannot leave the
controller (:func:`portable` says so) and runs there.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from runner.engine.host import HostJob, HostOptions
from runner.engine.outcome import HostOutcome
from runner.engine.redact import Redactor
from runner.engine.run import run_jobs
from runner.errors import RunInterrupted
from runner.ssh.group import HostGroup
from runner.ssh.target import SshTarget

#: what a failure of the executor itself (a worker that died, a job that could not be sent) is caused by
EXECUTOR_CAUSE = "executor"

LOG, CHANGED, SETUP = "log", "changed", "setup"


@dataclass
class RemoteJob:
    """Everything a worker needs to run one host's job: plain, picklable data."""

    job: HostJob
    target: SshTarget
    plan: bool = False
    verbose: int = 0
    lock: str | None = None
    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, job: HostJob, target: SshTarget, options: HostOptions) -> "RemoteJob":
        return cls(job, target, options.plan, options.verbose, options.lock, tuple(options.redact.secrets))


@dataclass
class RemoteResult:
    """A host's outcome and, in order, what the callbacks would have been told on the worker."""

    outcome: HostOutcome
    #: ("log", host, line), ("changed", host, resource, summary) or ("setup", host)
    events: list[tuple[str, ...]] = field(default_factory=list)
    where: str = ""  # which worker ran it (filled in by the executor's worker function)


def portable(job: HostJob) -> bool:
    """Whether the job can run in another process (see the module's docstring)."""
    return job.after_setup is None


def check_picklable(task: RemoteJob) -> str | None:
    """Why ``task`` cannot be sent to a worker, or None when it can (a resource type holding a lambda ...)."""
    try:
        pickle.dumps(task)
    except Exception as exc:  # pickle raises several kinds
        return f"its job cannot be sent to a worker: {type(exc).__name__}: {exc}"
    return None


def run_remote(task: RemoteJob, on_group: Callable[[HostGroup], None] = lambda group: None) -> RemoteResult:
    """On the worker: connect to the host (the normal transport, through a one-host HostGroup), run its job.

    ``on_group`` gets the group before anything starts: its :meth:`~runner.ssh.group.HostGroup.abort`
    (from another thread) stops the job at once, as Ctrl-C does locally.
    """
    events: list[tuple[str, ...]] = []
    options = HostOptions(
        plan=task.plan, verbose=task.verbose, lock=task.lock, redact=Redactor(task.secrets),
        log=lambda host, line: events.append((LOG, host, line)),
        on_changed=lambda host, key, summary: events.append((CHANGED, host, key, summary)),
        on_setup=lambda host: events.append((SETUP, host)),
    )
    with HostGroup([task.target], parallel=1) as group:
        on_group(group)
        try:
            (outcome,) = run_jobs([task.job], group, options)
        except RunInterrupted:  # the worker was told to stop
            outcome = HostOutcome(task.job.name, error="interrupted on its worker", cause="interrupted")
    return RemoteResult(outcome, events)


def replay(result: RemoteResult, options: HostOptions) -> None:
    """On the controller: tell ``options``' callbacks what the worker wrote down, in order."""
    for event in result.events:
        kind, host, *rest = event
        if kind == LOG:
            options.log(host, *rest)
        elif kind == CHANGED:
            options.on_changed(host, *rest)
        elif kind == SETUP:
            options.on_setup(host)


def failed(names: Sequence[str], why: str) -> list[HostOutcome]:
    """Outcomes for hosts the executor could not run."""
    return [HostOutcome(name, error=why, cause=EXECUTOR_CAUSE) for name in names]
