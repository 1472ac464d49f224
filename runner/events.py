"""Small public types: what the run hooks receive, and the progress events of a run.

Both are plain data (they import nothing from runner), so every layer can
make them and every client can read them.

* Run hooks (:mod:`runner.hookspecs`) get :class:`RunInfo`,
  :class:`HostResult` and :class:`RunReport`.
* A :class:`runner.api.Session` hands its ``on_event`` subscriber one
  :class:`Event` at a time while a run goes on: :class:`RunStarted`, then
  :class:`Progress` lines and :class:`ResourceChanged` per host, a
  :class:`HostFinished` per host, and :class:`RunFinished` last. The
  command line's live lines on stderr are one such subscriber.
"""

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


# -- progress events -----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Base of the progress events a session emits."""


@dataclass(frozen=True)
class RunStarted(Event):
    """A run begins: ``command`` (converge, deploy ...) on ``hosts`` of ``stack``; ``app`` for an app's run."""

    command: str
    stack: str
    hosts: tuple[str, ...]
    app: str | None = None


@dataclass(frozen=True)
class Progress(Event):
    """One line of progress. ``host`` is None for a line about the whole run (a deploy's batch)."""

    host: str | None
    message: str


@dataclass(frozen=True)
class ResourceChanged(Event):
    """A resource was changed on a host (``summary``: what changed)."""

    host: str
    resource: str
    summary: str


@dataclass(frozen=True)
class HostFinished(Event):
    """A host is done: ``ok`` or not, with a one-line ``summary`` (the error when it failed)."""

    host: str
    ok: bool
    summary: str


@dataclass(frozen=True)
class RunFinished(Event):
    """The run is over: ``ok`` when no host failed; ``seconds`` of wall time."""

    command: str
    ok: bool
    seconds: float


# -- what runner watch decides ------------------------------------------------------------


@dataclass(frozen=True)
class InstanceChange(Event):
    """One decision of ``runner watch`` about one instance: what it was, what it became, and why.

    Written as a line of the stack's events log and given to the
    ``runner_instance_changed`` hook. ``action`` is what was done (heal, start,
    stop, give_up, configure, lost, back, ...); ``from_status``/``to_status``
    are OpsWorks' status words.
    """

    time: str  # ISO 8601, UTC
    stack: str
    instance: str
    action: str
    from_status: str
    to_status: str
    why: str
