"""Running host jobs in parallel, each over its own connection, with a bound."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from runner.engine.host import HostJob, HostOptions, HostRunner
from runner.engine.outcome import HostOutcome
from runner.errors import HostError
from runner.ssh.connection import Connection
from runner.ssh.target import SshTarget

DEFAULT_PARALLEL = 25


def run_jobs(jobs: Sequence[HostJob], targets: Mapping[str, SshTarget], options: HostOptions,
             parallel: int = DEFAULT_PARALLEL) -> list[HostOutcome]:
    """Run every job on its host; a host's failure is in its outcome and never stops the others."""

    def one(job: HostJob) -> HostOutcome:
        conn = Connection(targets[job.name])
        started = time.monotonic()
        try:
            options.log(job.name, "connecting")
            try:
                conn.open()
            except HostError as exc:  # the time it took to fail counts too (a timeout is slow)
                return HostOutcome(job.name, error=exc.message, cause=exc.cause,
                                   seconds=time.monotonic() - started)
            outcome = HostRunner(job, conn, options).run()
            outcome.seconds = time.monotonic() - started
            return outcome
        finally:
            conn.close()

    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(jobs)))) as pool:
        return list(pool.map(one, jobs))
