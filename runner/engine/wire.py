"""How a script travels to a host: on stdin, never on the command line; and how it ends with its connection.

The remote command is a fixed wrapper that reads exactly the script's length
from stdin into a private temporary directory and runs it; the payload that
follows on stdin (file contents) is passed on to the script's stdin. The
script's text therefore never shows in a process list, and its size is not
bounded by the command-line limit.

Over SSH the runner keeps the command's stdin open until the command has
ended, so the end of stdin means the connection (or the channel) is gone: the
runner was killed, or gave up on the command. The script runs in its own
session (``setsid``) and a watcher that waits for the end of stdin kills that
process group then, so no step of a dead runner goes on running on the host
(e.g. a deploy hook overlapping the next deploy). A host without ``setsid``
runs the script as before, and says so with :data:`NO_SETSID` on stderr.
"""

from __future__ import annotations

import itertools
import shlex
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from runner.errors import HostError
from runner.ssh.api import CHUNK, CommandResult
from runner.ssh.api import Transport as Connection

NO_SETSID = "@@runner-no-setsid"
#: what the locked probe's command prints first (see :func:`run_script_locked`)
LOCKED, NO_LOCK = "@@locked", "@@nolock"

# The script runs in a new session; its pid is its process group, written to $T/pgid from inside (whether
# or not setsid had to fork). The watcher reads stdin (fd 3) to its end, then ends that process group.
# The script is sourced by that session's shell, not run by another sh: one exec less on every command.
_SESSION = "echo $$ > \"$1/pgid\"; . \"$1/script\""
_WATCH = (
    "while IFS= read -r _; do :; done; g=$(cat \"$T/pgid\" 2>/dev/null); "
    "if [ -n \"$g\" ]; then kill -TERM -\"$g\"; sleep 1; kill -KILL -\"$g\"; fi"
)


def _body(n: int, payload: int | None, lock_fd: bool) -> str:
    """Read the script, run it; ``payload`` None: no watcher, the script reads the rest of stdin itself."""
    head = (
        'T=$(mktemp -d "${TMPDIR:-/tmp}/.runner-XXXXXX") || exit 125; '
        "trap 'rm -rf \"$T\"' EXIT HUP INT TERM PIPE; "
        f'head -c {n} > "$T/script" || exit 125; '
    )
    close = " 8>&- 9>&-" if lock_fd else ""  # the locks' descriptors (host: 9, an app's: 8) stay out
    if payload is None:
        return head + f'sh "$T/script" "$T"{close}; st=$?; '
    if payload:  # the payload reaches the script through a fifo, the watcher keeps stdin itself
        feed, fed = "mkfifo \"$T/in\"", f'head -c {payload} > "$T/in"; '
        script_in = '"$T/in"'
    else:  # nothing to pass on (the locked probe): no fifo and no process to fill it
        feed, fed, script_in = ":", "", "/dev/null"
    return head + (
        f"exec 3<&0; if command -v setsid >/dev/null 2>&1 && {feed}; then "
        f"setsid -w sh -c {shlex.quote(_SESSION)} sh \"$T\" < {script_in} 3<&-{close} & s=$!; "
        f"{fed}( {_WATCH} ) <&3 >/dev/null 2>&1{close} & w=$!; "
        'wait "$s"; st=$?; kill "$w" 2>/dev/null; '
        f'else echo {NO_SETSID} >&2; sh "$T/script" "$T"{close}; st=$?; fi; '
    )


def wrapper(script: bytes, payload: int | None = None) -> str:
    """The remote command that runs ``script`` (sent first on stdin) with its private temp dir as $1.

    With ``payload`` (its size in bytes, which follows the script on stdin), the
    script runs in its own process group, ended when stdin ends (see the module).
    """
    return _body(len(script), payload, False) + 'exit "$st"'


def _open_stdin(chunks: Iterable[bytes], ended: threading.Event) -> Iterator[bytes]:
    """``chunks`` (at most CHUNK bytes at a time), then nothing until ``ended``: stdin stays open while
    the command runs."""
    for data in chunks:
        for i in range(0, len(data), CHUNK):
            yield data[i:i + CHUNK]
    ended.wait()


def run_script(conn: Connection, script: bytes, payload: bytes | Iterable[bytes] = b"",
               size: int | None = None) -> CommandResult:
    """Run ``script`` on the connection's host; ``payload`` follows it on stdin for the script to read.

    ``payload`` is bytes, or chunks (files read as they are sent, never joined in memory) whose
    total ``size`` is given.
    """
    if isinstance(payload, bytes):
        size, chunks = len(payload), [payload]
    elif size is None:
        raise ValueError("a payload sent in chunks needs its size")
    else:
        chunks = payload
    stdin = itertools.chain((script,), chunks)
    if not isinstance(conn, Connection):  # not a transport (runner.testing.LocalConnection): stdin just ends
        return conn.run(wrapper(script), stdin=stdin)
    ended = threading.Event()
    try:
        return conn.run(wrapper(script, size), stdin=_open_stdin(stdin, ended))
    finally:
        ended.set()


def run_script_locked(conn: Connection, script: bytes, lock: str, end: str) -> tuple[str, CommandResult | None, Any]:
    """Take a lock with the shell ``lock``, then run ``script`` in the same remote command, which then holds
    the lock until its channel or connection closes: (first line, the script's result, the holding channel).

    ``lock`` prints one line: :data:`LOCKED` or :data:`NO_LOCK` and goes on, or anything else and exits
    (then the result and channel are None). ``end`` is a random token that frames the script's exit status.
    """
    command = lock + _body(len(script), 0, True) + (
        f"printf '\\n%s %s\\n' {shlex.quote(end)} \"$st\"; rm -rf \"$T\"; trap - EXIT; "
        "while IFS= read -r _; do :; done <&3")  # holds the lock until stdin ends, with no process of its own
    started = time.monotonic()
    line, channel = conn.hold(command, send=script)
    if line not in (LOCKED, NO_LOCK):  # refused (the lock's own line), or the command failed before
        if line:
            channel.close()
            return line, None, None
        err = _read_all(channel.recv_stderr)
        status = channel.recv_exit_status() if channel.exit_status_ready() else -1
        channel.close()
        detail = err.decode("utf-8", "replace").strip()[-500:]
        raise HostError(conn.target.name, f"taking the host's lock failed (exit status {status}): "
                        f"{detail or 'no answer'}", "sudo" if "sudo:" in detail else "lock")
    errors: list[bytes] = []
    threading.Thread(target=lambda: _drain(channel.recv_stderr, errors), daemon=True).start()
    out = bytearray()
    marker = f"\n{end} ".encode()
    try:
        while (at := out.rfind(marker)) < 0 or not out.endswith(b"\n") or at + len(marker) >= len(out):
            data = channel.recv(CHUNK)
            if not data:
                break
            out += data
    except TimeoutError:
        channel.close()
        raise HostError(conn.target.name, f"the probe timed out after {conn.target.command_timeout:g} s",
                        "timeout") from None
    at = out.rfind(marker)
    if at < 0:  # the command ended before the script did
        status = channel.recv_exit_status()
        channel.close()
        return line, CommandResult(command, status, bytes(out), b"".join(errors), time.monotonic() - started), None
    status = int(out[at + len(marker):].strip() or b"1")
    result = CommandResult(command, status, bytes(out[:at]), b"".join(errors), time.monotonic() - started)
    return line, result, channel


def _drain(read, sink: list[bytes]) -> None:
    try:
        while data := read(CHUNK):
            sink.append(data)
    except (OSError, EOFError, TimeoutError):
        pass


def _read_all(read) -> bytes:
    sink: list[bytes] = []
    _drain(read, sink)
    return b"".join(sink)


def quote_all(values: list[str]) -> str:
    return " ".join(shlex.quote(v) for v in values)
