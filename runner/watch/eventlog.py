"""The events log: every decision of ``runner watch`` as one JSON line in ``.runner/events.jsonl``.

Each line is written with one ``write`` on a file opened with O_APPEND, so
lines from two processes never interleave and a reader sees whole lines
(a last line without its newline is still being written and is skipped).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

from runner.events import InstanceChange

FILE = "events.jsonl"


def path_for(state_dir: Path) -> Path:
    return Path(state_dir) / FILE


def append(state_dir: Path, change: InstanceChange) -> None:
    """Add one event to the log (creating the state dir and the file, 0600, when needed)."""
    path = path_for(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(asdict(change), sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _parse(line: bytes) -> InstanceChange | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        return InstanceChange(**{k: data.get(k) for k in InstanceChange.__dataclass_fields__})
    except TypeError:
        return None


def read(state_dir: Path, stack: str | None = None, offset: int = 0) -> tuple[list[InstanceChange], int]:
    """The events from byte ``offset`` on (of ``stack`` only, when given), and the offset after the last whole line."""
    try:
        with open(path_for(state_dir), "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    events = []
    for line in data[:end].splitlines():
        change = _parse(line)
        if change is not None and (stack is None or change.stack == stack):
            events.append(change)
    return events, offset + end


def follow(state_dir: Path, stack: str | None, *, until: Callable[[], bool], poll: float = 0.5,
           offset: int = 0) -> Iterator[InstanceChange]:
    """Every event from ``offset`` on, then new ones as they are written, until ``until()`` says stop."""
    while True:
        events, offset = read(state_dir, stack, offset)
        yield from events
        if until():
            return
        time.sleep(poll)
