"""A small JSON file in a stack's state dir that several runner processes read and change.

Every change is a read-modify-write under an exclusive ``fcntl.flock`` on a
lock file beside it, and the new text replaces the old with ``os.replace``
after an fsync, so a reader never sees half a file and takes no lock, and two
writers never lose each other's changes. A file that cannot be read counts as
empty: one broken record must not stop every command.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def replace_file(path: Path, text: str, mode: int | None = None) -> None:
    """Give ``path`` the content ``text`` in one step: a temporary file beside it (0600, or ``mode``),
    flushed to disk, then renamed over it; the temporary file never outlives a failure."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:  # the text as it is, \r\n included
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


class JsonStateFile:
    """``path`` (a JSON object), locked through ``lock`` (default: ``path`` with ``.lock``)."""

    def __init__(self, path: Path, lock: Path | None = None):
        self.path = Path(path)
        self.lock = Path(lock) if lock is not None else self.path.with_suffix(".lock")

    def load(self) -> dict[str, Any]:
        """The object in the file; ``{}`` when it is missing, unreadable or not an object."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock, "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def write(self, data: dict[str, Any]) -> None:
        """Replace the file with ``data`` in one step (call it holding :meth:`locked`)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")

    def update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """``change(data)`` on the file's object under the lock, written back; the new object."""
        with self.locked():
            data = self.load()
            change(data)
            self.write(data)
            return data
