"""A passenger client of OpenSSH's ControlMaster protocol, in-process.

Each command of the ``openssh`` transport used to be one ``ssh`` process that
did nothing but connect to the master's socket, hand over its stdin, stdout
and stderr, and wait for the exit status: about 6 ms of the controller's CPU
per command, a quarter of a warm no-op's controller time at 50 hosts. This
module says the same few messages itself (OpenSSH's PROTOCOL.mux, version 4):
a hello, a new session whose stdio are three pipes of ours passed over the
socket with SCM_RIGHTS, then the exit message. The master does the rest, as
it does for its own passengers: the channel, the window, the host's output.

:class:`MuxSession` offers the part of :class:`subprocess.Popen` the
transport uses (``stdin``, ``stdout``, ``stderr``, ``poll``, ``wait``,
``kill``), so a command runs the same way over either.

What the ``ssh`` passenger sends besides the command, this sends too: the
environment (the master passes on only what its ``SendEnv`` allows, as the
passenger would) and ``$TERM``. No tty, X11 or agent is asked for (``-T``).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

VERSION = 4
HELLO = 0x00000001
NEW_SESSION = 0x10000002
PERMISSION_DENIED = 0x80000002
FAILURE = 0x80000003
EXIT_MESSAGE = 0x80000004
SESSION_OPENED = 0x80000006
TTY_ALLOC_FAIL = 0x80000008
NO_ESCAPE_CHAR = 0xFFFFFFFF
SSH_FAILED = 255  # what ssh exits with when the session ended without an exit status
KILLED = -9  # Popen's returncode for a process ended by SIGKILL: what kill() makes of a session
MAX_PACKET = 256 * 1024  # the master's replies are a few bytes; more is not the protocol


class MuxUnavailable(OSError):
    """Nothing answers at the socket (gone, or a stale file): start a master and try again."""


class MuxUnsupported(Exception):
    """The master answered, but not in protocol version 4: use the ``ssh`` passenger instead."""


def _u32(value: int) -> bytes:
    return struct.pack(">I", value)


def _string(data: bytes) -> bytes:
    return _u32(len(data)) + data


_HELLO_PACKET = _string(_u32(HELLO) + _u32(VERSION))


def _connect(path: Path, timeout: float) -> socket.socket:
    """A connection to the master's socket; :class:`MuxUnavailable` when nothing answers there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except OSError as exc:
        sock.close()
        raise MuxUnavailable(exc.errno, f"no master answers at {path}: {exc.strerror or exc}") from None
    return sock


def new_session_request(command: str, environ: Mapping[str, str], request_id: int = 0) -> bytes:
    """Our hello and a MUX_C_NEW_SESSION for ``command``, each framed as a packet, ready to send at once.

    The master reads a packet's length, then exactly that many bytes, so what follows (the bytes that
    carry the file descriptors) stays in the socket until it asks for it.
    """
    body = b"".join([
        _u32(NEW_SESSION), _u32(request_id), _string(b""),  # reserved
        _u32(0), _u32(0), _u32(0), _u32(0),  # no tty, no X11, no agent, not a subsystem
        _u32(NO_ESCAPE_CHAR),
        _string(environ.get("TERM", "").encode()),
        _string(command.encode("utf-8", "surrogateescape")),
        *(_string(f"{name}={value}".encode("utf-8", "surrogateescape"))
          for name, value in environ.items() if name and "=" not in name),
    ])
    return _HELLO_PACKET + _string(body)


def parse_packets(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Take every whole packet off the front of ``buffer``: [(type, the rest of its body)]."""
    found = []
    while len(buffer) >= 4:
        (length,) = struct.unpack_from(">I", buffer)
        if length < 4 or length > MAX_PACKET:
            raise MuxUnsupported(f"a packet of {length} bytes from the master")
        if len(buffer) < 4 + length:
            break
        body = bytes(buffer[4:4 + length])
        del buffer[:4 + length]
        found.append((struct.unpack_from(">I", body)[0], body[4:]))
    return found


def _reason(payload: bytes) -> str:
    """The text of a PERMISSION_DENIED or FAILURE: request id, then a string."""
    if len(payload) < 8:
        return "no reason given"
    (length,) = struct.unpack_from(">I", payload, 4)
    return payload[8:8 + length].decode("utf-8", "replace")


class MuxSession:
    """One remote command over the master at ``path``; reads and waits like a :class:`subprocess.Popen`.

    Raises :class:`MuxUnavailable` when no master answers at ``path``. The hello and the request are
    sent without waiting for the master's hello; its answers are read by :meth:`poll` and :meth:`wait`.
    """

    def __init__(self, path: Path, command: str, environ: Mapping[str, str] | None = None,
                 connect_timeout: float = 10.0):
        self.returncode: int | None = None
        self.error = b""  # what the ssh passenger would have printed on its stderr, for the caller's errors
        self._buffer = bytearray()
        self._hello = False
        self._exit: int | None = None
        self._killed = False
        sock = _connect(path, connect_timeout)
        theirs: list[int] = []
        ours: list[int] = []
        try:
            stdin_r, stdin_w = os.pipe()
            theirs.append(stdin_r)
            ours.append(stdin_w)
            stdout_r, stdout_w = os.pipe()
            ours.append(stdout_r)
            theirs.append(stdout_w)
            stderr_r, stderr_w = os.pipe()
            ours.append(stderr_r)
            theirs.append(stderr_w)
            sock.sendall(new_session_request(command, os.environ if environ is None else environ))
            for fd in theirs:  # one descriptor per message: the master receives them one at a time
                socket.send_fds(sock, [b"\0"], [fd])
        except OSError:
            sock.close()
            for fd in theirs + ours:
                with contextlib.suppress(OSError):
                    os.close(fd)
            raise
        for fd in theirs:  # the master has its own copies now; ours would keep the pipes from ending
            os.close(fd)
        sock.settimeout(None)
        self._sock: socket.socket | None = sock
        self.stdin: IO[bytes] | None = open(stdin_w, "wb")  # noqa: SIM115 (closed by the transport)
        self.stdout: IO[bytes] | None = open(stdout_r, "rb")  # noqa: SIM115
        self.stderr: IO[bytes] | None = open(stderr_r, "rb")  # noqa: SIM115

    # -- the control socket -------------------------------------------------------------------

    def _take(self, packets: list[tuple[int, bytes]]) -> None:
        for kind, payload in packets:
            if not self._hello:
                if kind != HELLO or read_version(payload) != VERSION:
                    raise MuxUnsupported("the ssh master does not speak version 4 of the mux protocol")
                self._hello = True
            elif kind == EXIT_MESSAGE and len(payload) >= 8:
                self._exit = struct.unpack_from(">I", payload, 4)[0]
            elif kind in (PERMISSION_DENIED, FAILURE):  # in the words of the ssh passenger
                said = "master refused session request" if kind == PERMISSION_DENIED else "session request failed"
                self.error += f"mux_client_request_session: {said}: {_reason(payload)}\n".encode()
            # SESSION_OPENED and TTY_ALLOC_FAIL change nothing here (no tty is asked for)

    def _read(self, timeout: float | None) -> None:
        """Take in what the master says within ``timeout``; the socket's end is the session's end."""
        sock = self._sock
        if sock is None:
            return
        if not readable(sock.fileno(), timeout):
            return
        try:
            data = sock.recv(4096)
        except OSError:
            data = b""
        if data:
            self._buffer += data
            self._take(parse_packets(self._buffer))
            return
        sock.close()
        self._sock = None
        if self._killed:
            self.returncode = KILLED
        elif self._exit is not None:
            self.returncode = self._exit
        else:  # the master ended, or the session ended without an exit status (a signal): as ssh says it
            self.returncode = SSH_FAILED

    # -- what Popen offers --------------------------------------------------------------------

    def poll(self) -> int | None:
        while self.returncode is None and self._sock is not None and readable(self._sock.fileno(), 0):
            self._read(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("ssh mux session", timeout or 0)
            self._read(left)
        return self.returncode

    def kill(self) -> None:
        """End the session: the master sees us go and closes the channel, as when an ``ssh`` passenger is killed.

        A shutdown, not a close: another thread may be waiting on the socket, and it sees the end.
        """
        self._killed = True
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def readable(fd: int, timeout: float | None) -> bool:
    """Whether ``fd`` has something to read (or has ended) within ``timeout`` seconds.

    poll, not select: a controller of a few hundred hosts holds descriptors above select's 1024.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000 + 0.999))))


def read_version(payload: bytes) -> int | None:
    """The protocol version of a hello's payload."""
    return struct.unpack_from(">I", payload)[0] if len(payload) >= 4 else None


def master_version(path: Path, timeout: float = 10.0) -> int | None:
    """The mux protocol version the master at ``path`` speaks (None: it said no hello in time).

    Raises :class:`MuxUnavailable` when nothing answers there.
    """
    sock = _connect(path, timeout)
    try:
        buffer = bytearray()
        try:
            sock.sendall(_HELLO_PACKET)
            while not (packets := parse_packets(buffer)):
                data = sock.recv(4096)
                if not data:
                    return None
                buffer += data
        except (OSError, MuxUnsupported):
            return None
        kind, payload = packets[0]
        return read_version(payload) if kind == HELLO else None
    finally:
        sock.close()
