"""Small public types handed to the run hooks (report handlers, notifiers)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunInfo:
    """A run that is starting: which command, on which stack, to which hosts."""

    command: str
    stack: str
    hosts: tuple[str, ...]
    started_at: float


@dataclass(frozen=True)
class HostResult:
    """What happened on one host."""

    host: str
    changed: int = 0
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    error: str | None = None
    remote_commands: int = 0


@dataclass(frozen=True)
class RunReport:
    """A finished run: one result per host."""

    run: RunInfo
    results: tuple[HostResult, ...] = field(default_factory=tuple)

    @property
    def failed_hosts(self) -> list[str]:
        return [r.host for r in self.results if r.error or r.failed]
