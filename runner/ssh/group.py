"""Many hosts at once: one connection each, a bounded number in parallel.

This is the one way runner works on many hosts (a converge's jobs, a
deployment's batches, status, history). Like Fabric's Group, :meth:`HostGroup.each`
maps each host to its result or to the HostError that stopped it; one
host's failure never stops the others. :meth:`HostGroup.map` runs any work
per host name with the same bound, and :meth:`HostGroup.connect_in_background`
opens connections while the caller does something else (compiling recipes).

Connections come from :func:`runner.ssh.api.open_connection` (over the
transport the stack names, warm from :mod:`runner.ssh.pool` when the previous
run left one) and go back to the pool when the group lets them go;
:meth:`HostGroup.abort` closes them for good.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from runner.errors import HostError
from runner.ssh import pool
from runner.ssh.api import CommandResult, Stdin
from runner.ssh.api import Transport as Connection
from runner.ssh.pool import open_connection
from runner.ssh.target import SshTarget

T = TypeVar("T")
DEFAULT_PARALLEL = 25


@dataclass
class GroupResult(Generic[T]):
    """Per host: what the call returned, or the error that stopped it."""

    succeeded: dict[str, T] = field(default_factory=dict)
    failed: dict[str, HostError] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


_open = open_connection


class HostGroup:
    """Connections to a set of hosts, opened on demand (or early, in the background) and closed together."""

    def __init__(self, targets: Iterable[SshTarget], parallel: int = DEFAULT_PARALLEL):
        self.targets = {t.name: t for t in targets}
        self.parallel = max(1, parallel)
        self.connections: dict[str, Connection] = {}  # the open ones
        self.connect_started: dict[str, float] = {}  # when connecting to a host began (monotonic)
        self._pending: dict[str, Future[Connection]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self.aborted = False  # abort() was called: no host gets a connection any more
        self._adopted: set[str] = set()  # connections the group uses but another owner lets go

    def __enter__(self) -> "HostGroup":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connections ---------------------------------------------------------

    def connect_in_background(self, names: Sequence[str] | None = None) -> None:
        """Start connecting to the first ``parallel`` of ``names`` (default: every host) without waiting.

        Names the group has no target for (instances not online) are left out.

        Connecting is mostly waiting for the hosts (key exchange,
        authentication) and changes nothing on them, so a caller can compile
        meanwhile and still stop before anything is touched.
        """
        wanted = [n for n in (names if names is not None else list(self.targets))
                  if n in self.targets and n not in self.connections and n not in self._pending][:self.parallel]
        if not wanted:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.parallel)
        for name in wanted:
            self.connect_started[name] = time.monotonic()
            self._pending[name] = self._pool.submit(_open, self.targets[name])

    def connect(self, name: str) -> Connection:
        """The open connection to ``name``: waits for a background connect, or opens one now.

        :raises HostError: connecting failed.
        """
        if name in self.connections:
            return self.connections[name]
        if self.aborted:
            raise HostError(name, "not connected: the run was interrupted", "interrupted")
        future = self._pending.pop(name, None)
        if future is None:
            self.connect_started[name] = time.monotonic()
            conn = _open(self.targets[name])
        else:
            conn = future.result()
        self.connections[name] = conn
        if self.aborted:  # abort() came while connecting
            conn.abort()
        return conn

    def adopt(self, conn: Connection) -> None:
        """Use a connection opened elsewhere; its owner, not the group, lets it go (it may hold a lock)."""
        self.targets.setdefault(conn.target.name, conn.target)
        self.connections[conn.target.name] = conn
        self._adopted.add(conn.target.name)

    def release(self, name: str) -> None:
        """Let one host's connection go (a finished job does not keep it while others run): back to the pool,
        with every lock held over it released."""
        conn = self.connections.pop(name, None)
        if conn is not None and name not in self._adopted:
            self._let_go(conn)

    def _let_go(self, conn: Connection) -> None:
        if self.aborted:
            conn.abort()
        else:
            pool.put(conn)

    def abort(self) -> None:
        """Stop at once (Ctrl-C): close every connection without waiting for anything.

        Every command waiting on a connection ends with a HostError, so the
        worker threads finish within moments instead of keeping the process
        alive; connects under way are closed when they complete, and no new
        one starts.
        """
        self.aborted = True
        for future in self._pending.values():
            if not future.cancel():
                future.add_done_callback(lambda f: f.exception() is None and f.result().abort())
        for conn in list(self.connections.values()):
            conn.abort()

    def close(self) -> None:
        """Let every connection go (to the pool), also those opened in the background that nobody took."""
        for future in self._pending.values():
            try:
                self._let_go(future.result())
            except Exception:  # a failed connect has nothing to close
                pass
        self._pending.clear()
        for name, conn in self.connections.items():
            if name not in self._adopted:
                self._let_go(conn)
        self.connections.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    # -- work on many hosts ----------------------------------------------------

    def map(self, fn: Callable[[str], T], names: Sequence[str]) -> list[T]:
        """``fn(name)`` for each of ``names`` at once (at most ``parallel`` at a time); results in order.

        ``fn`` handles its own failures: an exception it raises propagates.
        On Ctrl-C (any BaseException but a plain Exception) the group is
        :meth:`abort`-ed before the interruption propagates, without waiting
        for the workers.
        """
        if not names:
            return []
        if len(names) == 1:
            try:
                return [fn(names[0])]
            except Exception:
                raise
            except BaseException:
                self.abort()
                raise
        pool = ThreadPoolExecutor(max_workers=min(self.parallel, len(names)))
        try:
            results = list(pool.map(fn, names))
        except Exception:
            pool.shutdown(wait=True)
            raise
        except BaseException:
            self.abort()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return results

    def each(self, fn: Callable[[Connection], T], names: Sequence[str] | None = None,
             keep_open: bool = True) -> GroupResult[T]:
        """Call ``fn`` with each host's connection, in parallel; collect results and HostErrors.

        With ``keep_open=False`` each connection is closed as soon as its host is done.
        """
        result: GroupResult[T] = GroupResult()

        def one(name: str) -> tuple[str, T | None, HostError | None]:
            try:
                return name, fn(self.connect(name)), None
            except HostError as exc:
                self.release(name)
                return name, None, exc
            finally:
                if not keep_open:
                    self.release(name)

        for name, value, error in self.map(one, list(self.targets) if names is None else list(names)):
            if error is not None:
                result.failed[name] = error
            else:
                result.succeeded[name] = value  # type: ignore[assignment]
        return result

    def run(self, command: str, stdin: Stdin = None, timeout: float | None = None) -> GroupResult[CommandResult]:
        """Run one command on every host. ``stdin`` must be bytes or str to be sent to each."""
        return self.each(lambda conn: conn.run(command, stdin=stdin, timeout=timeout))
