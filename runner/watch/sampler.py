"""Reading every online instance once per pass, over connections kept open between passes.

A connection whose command fails (the host went away, the socket broke) is
closed and opened again on the next pass; one whose target changed (a healed
container answers on a new port) is replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from runner.errors import HostError
from runner.ssh import pool
from runner.ssh.api import Transport as Connection
from runner.ssh.api import connection_for
from runner.ssh.target import SshTarget
from runner.watch import metrics
from runner.watch.types import Sample

COMMAND_TIMEOUT = 10.0  # seconds a host may take to answer the pass's command


class Sampler:
    """Samples hosts in parallel (at most ``parallel`` at once); call :meth:`close` at the end."""

    def __init__(self, parallel: int = 25):
        self.parallel = max(1, parallel)
        self.connections: dict[str, Connection] = {}
        self.cpu: dict[str, metrics.CpuReading] = {}
        self._pool: ThreadPoolExecutor | None = None

    def _drop(self, name: str, warm: bool = False) -> None:
        """Let a host's connection go: back to the pool (``warm``: it still works) or closed."""
        conn = self.connections.pop(name, None)
        if conn is not None:
            pool.put(conn) if warm else conn.close()

    def _read(self, target: SshTarget, now: float) -> Sample:
        name = target.name
        conn = self.connections.get(name)
        if conn is not None and conn.target != target:
            self._drop(name, warm=True)
            conn = None
        try:
            if conn is None:
                conn = pool.take(target) or connection_for(target)
                self.connections[name] = conn
                conn.open()
            previous = self.cpu.get(name)
            result = conn.run(metrics.command(previous is None), timeout=COMMAND_TIMEOUT, sudo=False)
        except HostError as exc:
            self._drop(name)
            self.cpu.pop(name, None)
            return Sample(name, now, False, error=exc.message, cause=exc.cause)
        if not result.ok:
            return Sample(name, now, False, error=f"the watch command exited with {result.exit_status}: "
                          f"{result.stderr.decode(errors='replace').strip()[:200]}", cause="command")
        sample, reading = metrics.parse(name, result.stdout.decode("utf-8", "replace"), now, previous)
        if reading is not None:
            self.cpu[name] = reading
        return sample

    def sample(self, targets: Mapping[str, SshTarget], now: float) -> dict[str, Sample]:
        """One :class:`Sample` per target; connections of hosts no longer given are closed."""
        for gone in set(self.connections) - set(targets):
            self._drop(gone, warm=True)
        for gone in set(self.cpu) - set(targets):
            del self.cpu[gone]
        if not targets:
            return {}
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="watch")
        names = list(targets)
        results = self._pool.map(lambda n: self._read(targets[n], now), names)
        return dict(zip(names, results, strict=True))

    def close(self) -> None:
        for name in list(self.connections):
            self._drop(name, warm=True)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
