"""Running host jobs in parallel through a :class:`~runner.ssh.group.HostGroup`, each over its own connection."""

from __future__ import annotations

import time
from collections.abc import Sequence

from runner.engine.host import HostJob, HostOptions, HostRunner
from runner.engine.outcome import HostOutcome
from runner.errors import HostError
from runner.ssh.group import HostGroup


def run_jobs(jobs: Sequence[HostJob], group: HostGroup, options: HostOptions) -> list[HostOutcome]:
    """Run every job on its host (the group's targets are named like the jobs); a host's failure is in
    its outcome and never stops the others. Each connection is closed when its job ends."""
    by_name = {job.name: job for job in jobs}

    def one(name: str) -> HostOutcome:
        started = group.connect_started.get(name, time.monotonic())
        try:
            options.log(name, "connecting")
            try:
                conn = group.connect(name)
            except HostError as exc:  # the time it took to fail counts too (a timeout is slow)
                return HostOutcome(name, error=exc.message, cause=exc.cause,
                                   seconds=time.monotonic() - group.connect_started.get(name, started))
            outcome = HostRunner(by_name[name], conn, options).run()
            outcome.seconds = time.monotonic() - group.connect_started.get(name, started)
            return outcome
        finally:
            group.release(name)

    return group.map(one, list(by_name))
