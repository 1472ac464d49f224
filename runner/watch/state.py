"""What runner remembers of each instance between watches: its wanted state and its heal attempts.

Kept in ``.runner/watch.json`` beside stack.yml (a :class:`runner.statefile.JsonStateFile`)::

    {"version": 1, "stacks": {"<stack>": {
        "wanted": {"<instance>": "running" | "stopped"},
        "heal": {"<instance>": {"attempts": 2, "since": 1764670000.0, "start_failed": false, "error": "...",
                                "setup_pending": false}},
        "memory": {"<policy>": {...}},            # the policies' own state between passes
        "online": ["<instance>", ...]}}}           # who answered at the end of the last pass

``runner instances start|stop|destroy`` write the wanted state; ``runner watch``
writes the rest. An instance found stopped whose wanted state is running was
stopped outside runner (``docker kill``, the EC2 console, a crash) and counts as
failed, as in OpsWorks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.statefile import JsonStateFile
from runner.watch.types import WANT_RUNNING, WANT_STOPPED

FILE = "watch.json"
VERSION = 1


@dataclass(frozen=True)
class HealEntry:
    """An instance runner has been healing: how many attempts, since when, and whether it gave up."""

    attempts: int = 0
    since: float | None = None  # when it was first found failed (epoch seconds)
    start_failed: bool = False
    error: str | None = None
    setup_pending: bool = False  # brought up (or being brought up) by the watch; its setup has not succeeded yet

    @classmethod
    def from_json(cls, data: Any) -> HealEntry:
        if not isinstance(data, dict):
            return cls()
        attempts = data.get("attempts")
        since = data.get("since")
        error = data.get("error")
        return cls(attempts if isinstance(attempts, int) else 0,
                   float(since) if isinstance(since, (int, float)) else None,
                   data.get("start_failed") is True, error if isinstance(error, str) else None,
                   data.get("setup_pending") is True)

    def to_json(self) -> dict[str, Any]:
        return {"attempts": self.attempts, "since": self.since, "start_failed": self.start_failed,
                "error": self.error, "setup_pending": self.setup_pending}


@dataclass
class StackWatchState:
    """One stack's part of the file, as plain values (see the module's docstring)."""

    wanted: dict[str, str]
    heal: dict[str, HealEntry]
    memory: dict[str, Any]
    online: list[str] | None  # None: no pass has recorded it yet


class WatchState:
    """The watch record of one stack in a state dir (created on the first write)."""

    def __init__(self, state_dir: Path, stack: str):
        self.stack = stack
        self.file = JsonStateFile(Path(state_dir) / FILE)

    def _mine(self, data: dict[str, Any]) -> dict[str, Any]:
        stacks = data.get("stacks")
        mine = stacks.get(self.stack) if isinstance(stacks, dict) else None
        return mine if isinstance(mine, dict) else {}

    def read(self) -> StackWatchState:
        mine = self._mine(self.file.load())
        wanted = mine.get("wanted") if isinstance(mine.get("wanted"), dict) else {}
        heal = mine.get("heal") if isinstance(mine.get("heal"), dict) else {}
        memory = mine.get("memory") if isinstance(mine.get("memory"), dict) else {}
        online = mine.get("online")
        return StackWatchState(
            {k: v for k, v in wanted.items() if v in (WANT_RUNNING, WANT_STOPPED)},
            {k: HealEntry.from_json(v) for k, v in heal.items()},
            memory,
            [str(n) for n in online] if isinstance(online, list) else None,
        )

    def _change(self, change) -> None:  # change(mine: dict) edits this stack's part
        def apply(data: dict[str, Any]) -> None:
            if not isinstance(data.get("stacks"), dict):
                data.clear()
                data["stacks"] = {}
            mine = data["stacks"].setdefault(self.stack, {})
            if not isinstance(mine, dict):
                mine = data["stacks"][self.stack] = {}
            change(mine)
            data["version"] = VERSION
        self.file.update(apply)

    def set_wanted(self, names: Iterable[str], wanted: str) -> None:
        """``runner instances start`` (WANT_RUNNING) or ``stop``/``destroy`` (WANT_STOPPED), or a policy's start/stop.

        A start by hand also forgets the instance's heal attempts and start_failed mark.
        """
        if wanted not in (WANT_RUNNING, WANT_STOPPED):
            raise ValueError(f"wanted state is {WANT_RUNNING!r} or {WANT_STOPPED!r}, not {wanted!r}")
        names = list(names)

        def change(mine: dict[str, Any]) -> None:
            table = mine.setdefault("wanted", {})
            heal = mine.setdefault("heal", {})
            for name in names:
                table[name] = wanted
                heal.pop(name, None)
        if names:
            self._change(change)

    def save_pass(self, heal: dict[str, HealEntry], memory: dict[str, Any], online: Iterable[str] | None,
                  wanted: dict[str, str]) -> None:
        """What one watch pass leaves: heal entries (replacing them all), policy memory, who is online
        (None: the pass did not get that far, the record is kept), and the wanted states the pass changed
        (others written meanwhile by a user are kept)."""
        def change(mine: dict[str, Any]) -> None:
            mine["heal"] = {k: v.to_json() for k, v in heal.items() if v != HealEntry()}
            mine["memory"] = memory
            if online is not None:
                mine["online"] = sorted(online)
            mine.setdefault("wanted", {}).update(wanted)
        self._change(change)


def for_stack(stack: Any) -> WatchState:
    """The watch record of a :class:`runner.model.stack.Stack` (``.runner/watch.json``)."""
    return WatchState(stack.state_dir, stack.name)
