"""Running host jobs in parallel through a :class:`~runner.ssh.group.HostGroup`, each over its own connection."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from runner.engine.host import HostJob, HostOptions, HostRunner
from runner.engine.outcome import HostOutcome
from runner.errors import HostError, RunInterrupted
from runner.ssh.group import HostGroup


def run_jobs(jobs: Sequence[HostJob], group: HostGroup, options: HostOptions,
             on_done: Callable[[HostOutcome], None] = lambda outcome: None) -> list[HostOutcome]:
    """Run every job on its host (the group's targets are named like the jobs); a host's failure is in
    its outcome and never stops the others. Each connection is closed when its job ends.

    ``on_done`` is called with each host's outcome as soon as that host is done (from its worker thread).

    :raises RunInterrupted: on Ctrl-C, once every connection is closed; it names the hosts whose apply
        script had been sent and had not come back (they may be half-converged).
    """
    by_name = {job.name: job for job in jobs}
    runners: dict[str, HostRunner] = {}

    def finish(outcome: HostOutcome) -> HostOutcome:
        if not group.aborted:  # an interrupted run's hosts are named by RunInterrupted, not one by one
            on_done(outcome)
        return outcome

    def one(name: str) -> HostOutcome:
        started = group.connect_started.get(name, time.monotonic())
        try:
            options.log(name, "connecting")
            try:
                conn = group.connect(name)
            except HostError as exc:  # the time it took to fail counts too (a timeout is slow)
                return finish(HostOutcome(name, error=exc.message, cause=exc.cause,
                                          seconds=time.monotonic() - group.connect_started.get(name, started)))
            runner = runners[name] = HostRunner(by_name[name], conn, options)
            outcome = runner.run()
            outcome.seconds = time.monotonic() - group.connect_started.get(name, started)
            return finish(outcome)
        finally:
            group.release(name)
            if not group.aborted:  # a finished host's scripts and outputs are not kept until the last host
                runners.pop(name, None)

    try:
        return group.map(one, list(by_name))
    except KeyboardInterrupt:
        raise RunInterrupted(tuple(n for n in by_name if n in runners and runners[n].applying)) from None
