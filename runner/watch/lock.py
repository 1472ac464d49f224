"""One ``runner watch`` per stack: an exclusive lock on ``.runner/watch.pid`` that holds the watcher's pid.

The lock is an ``fcntl.flock`` on the open file, so it goes with the process
(a killed watch leaves no stale lock); the pid in it only names the holder
in the message a second watch gets.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from runner.errors import UserError

FILE = "watch.pid"


class WatchLock:
    def __init__(self, state_dir: Path, stack: str):
        self.path = Path(state_dir) / FILE
        self.stack = stack
        self._fd: int | None = None

    def acquire(self) -> "WatchLock":
        """Take the lock, or raise UserError naming the pid of the watch that has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UserError(f"stack {self.stack!r} is already watched by runner watch (pid {holder})",
                            hint=f"stop that one first (kill {holder}), or wait for it to end") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "WatchLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
