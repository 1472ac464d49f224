"""The values the watch loop and its policies share (see runner.watch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from runner.model.stack import Stack

#: What an instance is meant to be doing, kept in the stack's state dir. ``runner instances
#: start|stop``, schedules and load-based scaling change it; a stopped instance whose wanted
#: state is RUNNING was stopped outside runner and counts as failed (as in OpsWorks).
WANT_RUNNING = "running"
WANT_STOPPED = "stopped"

# Action kinds
START = "start"  # start (create when missing), set up when new, then configure everywhere
STOP = "stop"  # shutdown recipes, stop, then configure the others
HEAL = "heal"  # the provider's heal (restart, or replace), set up, then configure everywhere
GIVE_UP = "give_up"  # too many failed heals: mark start_failed and leave it alone


@dataclass(frozen=True)
class Sample:
    """One instance as one pass read it (one SSH command per host)."""

    instance: str
    time: float  # epoch seconds
    alive: bool  # the host answered
    load1: float | None = None  # 1-minute load average (/proc/loadavg)
    cpu: float | None = None  # CPU busy %, from two /proc/stat readings
    memory: float | None = None  # memory used %, from /proc/meminfo (MemTotal - MemAvailable)
    error: str | None = None  # why it did not answer
    cause: str | None = None  # the HostError cause (refused, timeout, auth ...) when it did not


@dataclass(frozen=True)
class Action:
    """One thing a policy wants done to one instance, and why (the events log says it)."""

    kind: str  # START | STOP | HEAL | GIVE_UP
    instance: str
    why: str
    policy: str = ""


@dataclass
class WatchView:
    """What every policy sees in one pass."""

    stack: Stack
    now: float  # epoch seconds; schedules read it as UTC
    statuses: dict[str, str]  # instance -> OpsWorks status word (runner.providers.api)
    samples: dict[str, Sample]  # instance -> this pass's reading (online instances only)
    wanted: dict[str, str]  # instance -> WANT_RUNNING | WANT_STOPPED (missing: the stack's default, running)
    memory: dict[str, Any] = field(default_factory=dict)  # policy name -> its JSON-able state, kept between passes
    heal: dict[str, Any] = field(default_factory=dict)  # instance -> runner.watch.state.HealEntry (healing's own)
    provider_heals: bool = True  # the provider can restart or replace instances (static cannot)


class Policy(Protocol):
    """Decides actions from a view; keeps its state in ``view.memory[self.name]``."""

    name: str

    def decide(self, view: WatchView) -> list[Action]: ...
