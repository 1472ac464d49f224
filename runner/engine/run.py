"""Running host jobs in parallel, each over its own connection, with a bound."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from runner.engine.host import HostJob, HostOptions, HostRunner
from runner.engine.outcome import HostOutcome
from runner.errors import HostError
from runner.ssh.connection import Connection
from runner.ssh.target import SshTarget

DEFAULT_PARALLEL = 25


class EarlyConnections:
    """Connections opened in the background while the caller still compiles the recipes.

    Compiling is pure Python in the main thread and connecting is mostly
    waiting for the hosts (key exchange, authentication), so doing both at once
    takes the compile off the critical path. Opening a connection changes
    nothing on a host, so a recipe error found meanwhile still stops the run
    before anything is touched (the connections are closed). At most
    ``parallel`` hosts are connected early, the bound a run keeps anyway.
    """

    def __init__(self, targets: Mapping[str, SshTarget], parallel: int = DEFAULT_PARALLEL):
        self.started = {name: time.monotonic() for name in list(targets)[:max(1, parallel)]}
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.started)))
        self._futures: dict[str, Future[Connection]] = {
            name: self._pool.submit(self._open, targets[name]) for name in self.started}

    @staticmethod
    def _open(target: SshTarget) -> Connection:
        conn = Connection(target)
        try:
            return conn.open()
        except BaseException:
            conn.close()
            raise

    def take(self, name: str) -> Connection | None:
        """The open connection to ``name`` (waiting for it); None when it was not connected early.

        :raises HostError: connecting failed.
        """
        future = self._futures.pop(name, None)
        return None if future is None else future.result()

    def close(self) -> None:
        """Close every connection nobody took."""
        for future in self._futures.values():
            try:
                future.result().close()
            except Exception:  # a failed connect has nothing to close
                pass
        self._futures.clear()
        self._pool.shutdown(wait=False)


def run_jobs(jobs: Sequence[HostJob], targets: Mapping[str, SshTarget], options: HostOptions,
             parallel: int = DEFAULT_PARALLEL, early: EarlyConnections | None = None) -> list[HostOutcome]:
    """Run every job on its host; a host's failure is in its outcome and never stops the others."""

    def one(job: HostJob) -> HostOutcome:
        started = early.started.get(job.name, time.monotonic()) if early else time.monotonic()
        conn: Connection | None = None
        try:
            options.log(job.name, "connecting")
            try:
                conn = early.take(job.name) if early else None
                if conn is None:
                    conn = Connection(targets[job.name])
                    conn.open()
            except HostError as exc:  # the time it took to fail counts too (a timeout is slow)
                return HostOutcome(job.name, error=exc.message, cause=exc.cause,
                                   seconds=time.monotonic() - started)
            outcome = HostRunner(job, conn, options).run()
            outcome.seconds = time.monotonic() - started
            return outcome
        finally:
            if conn is not None:
                conn.close()

    try:
        if not jobs:
            return []
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(jobs)))) as pool:
            return list(pool.map(one, jobs))
    finally:
        if early is not None:
            early.close()
