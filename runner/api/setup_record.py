"""What this controller remembers of setups: which instances a setup is running on, and which failed.

Only the runner knows that a setup is under way on an instance, or that the
last one failed there (the host has no marker either way), so it keeps a small
record under the stack's state dir: ``.runner/instances.json`` beside
stack.yml, one entry per instance that is not simply set up::

    {"version": 1, "stacks": {"<stack>": {"<instance>": {
        "status": "running_setup" | "setup_failed", "since": "<iso time>",
        "pid": 1234, "host": "<controller's hostname>", "error": "..."}}}}

Every change is a read-modify-write under an exclusive ``fcntl.flock`` on
``.runner/instances.lock`` (two runner processes, or two threads of one, never
lose each other's entries), and the new file replaces the old one with
``os.replace`` (a reader never sees half a file, so readers take no lock).
The record is per controller: another machine running runner on the same
stack has its own.
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.model.stack import Stack
from runner.providers.api import RUNNING_SETUP, SETUP_FAILED
from runner.statefile import JsonStateFile

FILE = "instances.json"
LOCK = "instances.lock"
VERSION = 1

Entries = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class SetupEntry:
    """One instance's entry: a setup running on it (by process ``pid`` on ``host``), or the last one failed."""

    status: str  # RUNNING_SETUP | SETUP_FAILED
    since: str
    pid: int | None = None
    host: str | None = None
    error: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SetupEntry | None:
        status = data.get("status")
        if status not in (RUNNING_SETUP, SETUP_FAILED):
            return None
        pid = data.get("pid")
        return cls(status, str(data.get("since") or ""), pid if isinstance(pid, int) else None,
                   data.get("host") if isinstance(data.get("host"), str) else None,
                   data.get("error") if isinstance(data.get("error"), str) else None)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "since": self.since, "pid": self.pid, "host": self.host, "error": self.error}


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (a signal-0 probe; it may be another user's)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_alive(entry: SetupEntry) -> bool:
    """Whether the run that wrote a running_setup entry can still be running.

    An entry written on another machine (a state dir shared between controllers)
    cannot be checked from here and counts as alive.
    """
    if entry.pid is None:
        return False
    if entry.host is not None and entry.host != socket.gethostname():
        return True
    return pid_alive(entry.pid)


class SetupRecord:
    """The record of one stack's instances in a state dir (created on the first write)."""

    def __init__(self, state_dir: Path, stack: str):
        self.dir = Path(state_dir)
        self.stack = stack
        self.path = self.dir / FILE
        self.file = JsonStateFile(self.path, self.dir / LOCK)

    # -- reading ---------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        data = self.file.load()  # unreadable: start again rather than fail every command
        if not isinstance(data.get("stacks"), dict):
            return {"version": VERSION, "stacks": {}}
        return data

    def entries(self) -> dict[str, SetupEntry]:
        """Every instance of the stack with an entry (no lock: the file is only ever replaced whole)."""
        raw = self._load()["stacks"].get(self.stack)
        out: dict[str, SetupEntry] = {}
        for name, data in (raw.items() if isinstance(raw, dict) else ()):
            entry = SetupEntry.from_json(data) if isinstance(data, dict) else None
            if entry is not None:
                out[name] = entry
        return out

    def get(self, name: str) -> SetupEntry | None:
        return self.entries().get(name)

    # -- writing ----------------------------------------------------------------

    def update(self, change: Callable[[Entries], None]) -> None:
        """Apply ``change`` to the stack's raw entries (instance -> dict) under the lock, and write them back."""
        def apply(data: dict[str, Any]) -> None:
            stacks = data.get("stacks")
            if not isinstance(stacks, dict):
                data.clear()
                stacks = data.setdefault("stacks", {})
            entries = stacks.get(self.stack)
            entries = dict(entries) if isinstance(entries, dict) else {}
            change(entries)
            if entries:
                stacks[self.stack] = entries
            else:
                stacks.pop(self.stack, None)
            data["version"] = VERSION
        self.file.update(apply)

    def mark_running(self, names: Iterable[str], pid: int | None = None) -> None:
        """A setup starts on ``names`` in process ``pid`` (default: this one); a failure before is kept as error."""
        entry = SetupEntry(RUNNING_SETUP, now(), os.getpid() if pid is None else pid, socket.gethostname())

        def change(entries: Entries) -> None:
            for name in names:
                previous = entries.get(name) or {}
                entries[name] = {**entry.to_json(), "error": previous.get("error")}
        self.update(change)

    def settle(self, failures: Mapping[str, str], succeeded: Sequence[str]) -> None:
        """After a run: the failed setups recorded, the succeeded ones cleared, in one write (none if no change)."""
        if not failures and not set(succeeded) & set(self.entries()):
            return
        def change(entries: Entries) -> None:
            for name in succeeded:
                entries.pop(name, None)
            for name, error in failures.items():
                entries[name] = SetupEntry(SETUP_FAILED, now(), os.getpid(), socket.gethostname(), error).to_json()
        self.update(change)


class RunningMarks:
    """:meth:`SetupRecord.mark_running` for setups that start one by one, each on its host's thread.

    One write of the record per host would read and rewrite the whole file for each (a cost that
    grows with the hosts, so a run's grows with their square). Here the hosts that arrive while a
    write is under way go together in the next: each caller returns once a write holding its host
    is on disk, or raises that write's error.
    """

    def __init__(self, record: SetupRecord):
        self.record = record
        self._cond = threading.Condition()
        self._pending: list[str] = []
        self._next = 0  # the number the next write takes
        self._done = 0  # writes finished
        self._busy = False
        self._errors: dict[int, OSError] = {}
        self.writes = 0  # how many writes there were (for tests and benchmarks)

    def mark(self, host: str) -> None:
        with self._cond:
            self._pending.append(host)
            mine = self._next  # the next write to start carries this host
            while self._done <= mine:
                if self._busy:
                    self._cond.wait()
                    continue
                batch, self._pending = self._pending, []
                number, self._next, self._busy = self._next, self._next + 1, True
                self._cond.release()
                error = None
                try:
                    self.record.mark_running(batch)
                except OSError as exc:
                    error = exc
                finally:
                    self._cond.acquire()
                    self._busy, self._done = False, number + 1
                    self.writes += 1
                    if error is not None:
                        self._errors[number] = error
                    self._cond.notify_all()
            if mine in self._errors:
                raise self._errors[mine]


def for_stack(stack: Stack) -> SetupRecord:
    """The record of a :class:`runner.model.stack.Stack` (``.runner/instances.json`` beside its stack.yml)."""
    return SetupRecord(stack.state_dir, stack.name)
