"""Many hosts at once: one connection each, a bounded number in parallel.

Like Fabric's Group, a call maps each host to its result or to the
HostError that stopped it; one host's failure never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from runner.errors import HostError
from runner.ssh.connection import CommandResult, Connection, Stdin
from runner.ssh.target import SshTarget

T = TypeVar("T")
DEFAULT_PARALLEL = 10


@dataclass
class GroupResult(Generic[T]):
    """Per host: what the call returned, or the error that stopped it."""

    succeeded: dict[str, T] = field(default_factory=dict)
    failed: dict[str, HostError] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


class HostGroup:
    """Connections to a set of hosts, opened lazily and closed together."""

    def __init__(self, targets: Iterable[SshTarget], parallel: int = DEFAULT_PARALLEL):
        self.connections = {t.name: Connection(t) for t in targets}
        self.parallel = max(1, parallel)

    def __enter__(self) -> "HostGroup":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for conn in self.connections.values():
            conn.close()

    def each(self, fn: Callable[[Connection], T]) -> GroupResult[T]:
        """Call ``fn`` with each host's connection, in parallel; collect results and failures."""
        result: GroupResult[T] = GroupResult()

        def one(conn: Connection) -> tuple[str, T | None, HostError | None]:
            try:
                return conn.target.name, fn(conn.open()), None
            except HostError as exc:
                conn.close()
                return conn.target.name, None, exc

        conns = list(self.connections.values())
        if not conns:
            return result
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(conns))) as pool:
            for name, value, error in pool.map(one, conns):
                if error is not None:
                    result.failed[name] = error
                else:
                    result.succeeded[name] = value  # type: ignore[assignment]
        return result

    def run(self, command: str, stdin: Stdin = None, timeout: float | None = None) -> GroupResult[CommandResult]:
        """Run one command on every host. ``stdin`` must be bytes or str to be sent to each."""
        return self.each(lambda conn: conn.run(command, stdin=stdin, timeout=timeout))
