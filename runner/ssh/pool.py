"""Warm connections kept for the next run in this process (a converge then a deploy, the next watch pass).

When a :class:`runner.ssh.group.HostGroup` lets a connection go, it comes here
instead of being closed (:func:`put`), and the next group that wants the same
target (:class:`runner.ssh.target.SshTarget`, compared whole) takes it
(:func:`take`) if it is still warm: up, with nothing running over it, and its
host key still the one known_hosts has (a rebuilt host, or a key the user
forgot with ``ssh-keygen -R``, gets a fresh connection that checks its key
anew). A connection unused for ``target.persist`` seconds is closed by a daemon
thread; every one left is closed when the interpreter exits.

Before a connection is kept, every :meth:`~runner.ssh.api.Transport.hold`
handle on it is closed, so no lock held over it outlives its run.
"""

from __future__ import annotations

import atexit
import threading
import time
from typing import Any

from runner.ssh.api import Transport, connection_for
from runner.ssh.target import SshTarget

_lock = threading.Condition()
_idle: dict[SshTarget, list[tuple[float, Transport]]] = {}  # target -> (when it expires, connection)
_sweeper: threading.Thread | None = None
_stats = {"kept": 0, "reused": 0}


def _close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # closing a connection that went already
        pass


def put(conn: Any) -> None:
    """Keep ``conn`` warm for ``persist`` seconds (its locks are released first); close it when it cannot be."""
    if not isinstance(conn, Transport):  # a stand-in (runner.testing.LocalConnection)
        _close(conn)
        return
    conn.close_holds()
    persist = conn.target.persist
    if persist <= 0 or not conn.is_warm():
        _close(conn)
        return
    with _lock:
        _idle.setdefault(conn.target, []).append((time.monotonic() + persist, conn))
        _stats["kept"] += 1
        _start_sweeper()
        _lock.notify_all()


def take(target: SshTarget) -> Transport | None:
    """A warm connection to ``target``, or None (those found cold are closed)."""
    while True:
        with _lock:
            entries = _idle.get(target)
            if not entries:
                return None
            _, conn = entries.pop()
            if not entries:
                del _idle[target]
        if conn.is_warm():
            with _lock:
                _stats["reused"] += 1
            conn.commands_run = 0  # a report counts the commands of its own run
            return conn
        _close(conn)


def open_connection(target: SshTarget) -> Transport:
    """An open connection to ``target``: a warm one from the pool when there is one, else a new one.

    :raises HostError: connecting failed.
    """
    warm = take(target)
    if warm is not None:
        return warm
    conn = connection_for(target)
    try:
        return conn.open()
    except BaseException:
        conn.close()
        raise


def stats() -> dict[str, int]:
    """How many connections were kept and reused in this process, and how many are idle now."""
    with _lock:
        return {**_stats, "idle": sum(len(v) for v in _idle.values())}


def close_all() -> None:
    """Close every idle connection now (at exit; tests)."""
    with _lock:
        conns = [conn for entries in _idle.values() for _, conn in entries]
        _idle.clear()
    for conn in conns:
        _close(conn)


def _expired(now: float) -> list[Transport]:
    gone = []
    for target in list(_idle):
        keep = [(until, c) for until, c in _idle[target] if until > now]
        gone += [c for until, c in _idle[target] if until <= now]
        if keep:
            _idle[target] = keep
        else:
            del _idle[target]
    return gone


def _sweep() -> None:
    while True:
        with _lock:
            now = time.monotonic()
            gone = _expired(now)
            if not gone:
                soonest = min((until for entries in _idle.values() for until, _ in entries), default=None)
                _lock.wait(timeout=None if soonest is None else max(0.05, soonest - now))
        for conn in gone:
            _close(conn)


def _start_sweeper() -> None:
    """Start the thread that closes expired connections (call with ``_lock`` held)."""
    global _sweeper
    if _sweeper is None or not _sweeper.is_alive():
        _sweeper = threading.Thread(target=_sweep, name="ssh pool sweeper", daemon=True)
        _sweeper.start()


atexit.register(close_all)
