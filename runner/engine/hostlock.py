"""The host's run lock: one run that changes a host at a time.

Recipe runs (converge, setup, configure, execute_recipes, shutdown) hold it
exclusively; deploys, rollbacks and undeploys hold it shared, with their app's
own lock (runner.deploy), so deploys of different apps may overlap but never
a recipe run. It is a flock on :data:`HOST_LOCK` held by a command whose stdin
is the runner's connection (see :func:`runner.engine.wire.run_script_locked`),
so it lasts exactly as long as that connection and a killed runner releases
it. A run that finds it held fails at once, saying who holds it: the holder
writes its command, pid, user@host and start time into the lock file.

The lock is always taken before an app's lock, and never twice over one
connection: what runs nested over a connection that holds it (setup's deploy,
a deploy's recipes) does not take it again, so the locks cannot deadlock.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import os
import shlex
import socket
import weakref
from typing import Any

from runner.engine.wire import LOCKED, NO_LOCK

HOST_LOCK = "/var/lib/runner/run.lock"
#: how a planted link in the lock's path is refused (the same words as the deploy scripts')
IS_A_SYMLINK = "is a symlink: refusing to write through it"
BUSY = "@@busy"
BUSY_STATUS = 75

_held: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def holder(what: str) -> str:
    """Who takes the lock, as the lock file and a refused run say it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return f"{what} by {user}@{socket.gethostname()}, pid {os.getpid()}, since {started}"


def take_shell(who: str, shared: bool = False, quiet: bool = False) -> str:
    """Shell that takes the host lock on fd 9 without waiting and writes ``who`` into the lock file.

    Then it prints LOCKED (or NO_LOCK on a host without flock) and goes on,
    unless ``quiet``; when another run holds the lock it prints BUSY and the
    holder and exits with BUSY_STATUS. The lock lasts as long as fd 9 stays open.
    """
    q, path = shlex.quote, shlex.quote(HOST_LOCK)
    mode = "-s " if shared else ""
    said, unsaid = ("", "") if quiet else (f"echo {LOCKED}; ", f"echo {NO_LOCK}; ")
    links = " ".join(q(p) for p in (os.path.dirname(HOST_LOCK), HOST_LOCK))
    return (
        f"for p in {links}; do if [ -L \"$p\" ]; then echo \"runner: $p {IS_A_SYMLINK}\"; exit 1; fi; done; "
        f"[ -d {q(os.path.dirname(HOST_LOCK))} ] || mkdir -p {q(os.path.dirname(HOST_LOCK))} || exit 125; "
        f"if command -v flock >/dev/null 2>&1; then exec 9>>{path}; "
        f"if ! flock {mode}-n 9; then printf '%s %s\\n' {BUSY} \"$(head -c 400 {path} | tr -d '\\n')\"; "
        f"exit {BUSY_STATUS}; fi; "
        f"printf '%s (remote pid %s)\\n' {q(who)} \"$$\" > {path}; {said}"
        f"else {unsaid}: ; fi; "
    )


def busy_message(line: str) -> str:
    """What a refused run says, from the BUSY line of :func:`take_shell` (or the line saying why it could not)."""
    if not line.startswith(BUSY):
        return line
    who = line[len(BUSY):].strip() or "(it has not said who it is yet)"
    return f"another run holds this host ({HOST_LOCK}): {who}; try again when it has ended"


def held(conn: Any) -> bool:
    """Whether this connection holds the host lock already (then nothing over it takes it again).

    A channel closed meanwhile holds nothing: a connection back from the pool
    (runner.ssh.pool closes its channels) takes the lock again.
    """
    channel = _held.get(conn)
    if channel is not None and getattr(channel, "closed", False):
        _held.pop(conn, None)
        return False
    return channel is not None


def keep(conn: Any, channel: Any) -> None:
    """Remember that ``channel`` of ``conn`` holds the host lock."""
    _held[conn] = channel


def release(conn: Any) -> None:
    """Let the host lock go, if this connection holds it."""
    channel = _held.pop(conn, None)
    if channel is not None:
        channel.close()
