"""What every SSH transport offers, and the table of transports by name.

A transport is one connection to one host (:class:`Transport`): ``paramiko``
(:mod:`runner.ssh.connection`, the default) and ``openssh`` (:mod:`runner.ssh.openssh`,
the system ``ssh`` over a ControlMaster) are built in; plugins add more through the
``runner_transports`` hook. The ssh layer sits below the plugin layer, so it keeps
the table itself (:data:`TRANSPORTS`), and the registry fills it when it loads
(:func:`register_transports`). ``stack.ssh.transport`` picks one by name;
:func:`connection_for` builds a connection for a target
(:func:`runner.ssh.pool.open_connection`: a warm one when there is one).

Also here: the parts every transport shares, so both give the same results and
the same errors (:class:`CommandResult`, :class:`CommandCutOff`, :func:`sudo_wrap`,
:func:`sudo_failure`).
"""

from __future__ import annotations

import importlib
import itertools
import shlex
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any, ClassVar

from runner.errors import HostError
from runner.ssh.target import SshTarget

CHUNK = 64 * 1024
Stdin = bytes | str | IO[bytes] | Iterable[bytes] | None


@dataclass(frozen=True)
class CommandResult:
    command: str
    exit_status: int
    stdout: bytes
    stderr: bytes
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


class CommandCutOff(HostError):
    """A remote command that did not run to its end: it timed out, or its connection was lost.

    ``output`` is the stdout it printed until then (a caller that knows the
    command's markers can say where it was); :meth:`during` says the same
    about a named part of it instead of the command line.
    """

    def __init__(self, host: str, what: str, command: str, cause: str, output: bytes, suffix: str):
        super().__init__(host, f"{what}: {command[:80]}{suffix}", cause)
        self.what, self.output, self.suffix = what, output, suffix

    def during(self, subject: str) -> HostError:
        return HostError(self.host, f"{self.what} in {subject}{self.suffix}", self.cause)


def chunks(stdin: Stdin) -> Iterable[bytes]:
    """``stdin`` as chunks of at most :data:`CHUNK` bytes (an iterable of bytes is passed on as it is)."""
    if stdin is None:
        return
    if isinstance(stdin, str):
        stdin = stdin.encode()
    if isinstance(stdin, bytes):
        for i in range(0, len(stdin), CHUNK):
            yield stdin[i:i + CHUNK]
    elif hasattr(stdin, "read"):
        while chunk := stdin.read(CHUNK):
            yield chunk
    else:
        yield from stdin


def sudo_password_line(target: SshTarget, use_sudo: bool) -> bytes:
    """The first line of a command's stdin: the sudo password, when sudo runs with one (see :func:`sudo_wrap`)."""
    return (target.sudo_password + "\n").encode() if use_sudo and target.sudo_password is not None else b""


def stdin_through_sudo(target: SshTarget, use_sudo: bool, stdin: Stdin) -> Iterable[bytes]:
    """``stdin`` as chunks, after the sudo password's line when there is one."""
    first = sudo_password_line(target, use_sudo)
    return itertools.chain([first], chunks(stdin)) if first else chunks(stdin)


def sudo_wrap(command: str, with_password: bool) -> str:
    """Wrap ``command`` to run as root through sudo, never waiting at a prompt.

    Without a password, ``sudo -n`` fails at once if one is needed. With one,
    the password arrives as stdin's first line; it is consumed whether or not
    sudo asks (NOPASSWD hosts: by ``read``; else by ``sudo -S``, which reads it
    a byte at a time), so the command always gets the rest of stdin, straight
    from the connection (nothing in between keeps it open after the command
    ends), and it never appears on a command line.
    """
    inner = f"sh -c {shlex.quote(command)}"
    if not with_password:
        return f"sudo -n -H -- {inner}"
    script = (
        f'if sudo -n true 2>/dev/null; then IFS= read -r pw; exec sudo -n -H -- {inner}; fi; '
        f'exec sudo -S -k -p "" -H -- {inner}'
    )
    return f"sh -c {shlex.quote(script)}"


def sudo_failure(stderr: bytes) -> str | None:
    """Why sudo refused to run the command, from its stderr; None when it did not refuse."""
    text = stderr.decode("utf-8", "replace")
    if "a password is required" in text or "a terminal is required" in text:
        return "sudo asks for a password and none is configured"
    if "incorrect password" in text or "Sorry, try again" in text:
        return "sudo refused the configured password"
    if "is not in the sudoers file" in text or "not allowed to execute" in text:
        return "the user may not use sudo on this host"
    return None


def sudo_error(target: SshTarget, why: str) -> HostError:
    return HostError(target.name, f"{why}; allow passwordless sudo for {target.user} (NOPASSWD) "
                     f"or set ssh.sudo_password_env ({target.user}@{target.address}:{target.port})", "sudo")


class Transport:
    """One connection to one host; opened once and reused for a whole run (and, warm, by the next one).

    A subclass sets ``name`` (what ``stack.ssh.transport`` says) and implements
    :meth:`open`, :meth:`close`, :meth:`run`, :meth:`hold` and :meth:`alive`.
    Every failure is a :class:`HostError` whose ``cause`` is one of those the
    paramiko transport gives (refused, timeout, dns, auth, host-key-changed,
    host-key-unknown, banner, connection-lost, sudo ...), with the same words.

    The handles :meth:`hold` returns are remembered (see :meth:`_track`) so
    :meth:`close_holds` can end them all: a connection goes back to the pool
    (:mod:`runner.ssh.pool`) only with nothing running on it, or a lock held
    over it would outlive its run.
    """

    name: ClassVar[str] = ""

    def __init__(self, target: SshTarget):
        self.target = target
        self.commands_run = 0
        self._aborted = False
        self._holds: weakref.WeakSet[Any] = weakref.WeakSet()
        self._holds_lock = threading.Lock()

    # -- what a transport implements ----------------------------------------

    def open(self) -> "Transport":
        """Connect (no-op when connected). :raises HostError: connecting failed."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection and everything running over it; it may be opened again."""
        raise NotImplementedError

    def run(self, command: str, stdin: Stdin = None, timeout: float | None = None,
            sudo: bool | None = None) -> CommandResult:
        """Run ``command`` (a shell string) and wait for it; stream ``stdin`` to it.

        ``sudo`` defaults to the target's setting. A non-zero exit status is
        returned, not raised; a timeout, a lost connection or a sudo that
        wants a password raises HostError.
        """
        raise NotImplementedError

    def hold(self, command: str, timeout: float | None = None, send: bytes = b"") -> tuple[str, Any]:
        """Start ``command`` and leave it running; return its first line of output and a handle to it.

        The command's stdin stays open until the handle is closed (or the
        connection ends), so a command that waits for the end of its stdin
        lives exactly as long: what a lock held on a host needs. ``send`` is
        written to its stdin at once. The handle reads like a paramiko
        channel: ``recv``, ``recv_stderr``, ``recv_exit_status``,
        ``exit_status_ready``, ``closed`` and ``close()``.
        """
        raise NotImplementedError

    def alive(self) -> bool:
        """Whether the connection is up (cheaply: no command runs)."""
        raise NotImplementedError

    def host_key_still_trusted(self) -> bool:
        """Whether the host's key, as this connection verified it, is still what known_hosts says."""
        return True

    # -- shared ----------------------------------------------------------------

    def abort(self) -> None:
        """Close now and never open again: commands waiting on this connection end with 'connection lost'."""
        self._aborted = True
        self.close()

    @property
    def aborted(self) -> bool:
        return self._aborted

    def _track(self, handle: Any) -> Any:
        with self._holds_lock:
            self._holds.add(handle)
        return handle

    def open_holds(self) -> int:
        """How many :meth:`hold` handles are still open."""
        with self._holds_lock:
            return sum(1 for h in self._holds if not getattr(h, "closed", False))

    def close_holds(self) -> None:
        """Close every :meth:`hold` handle still open (the locks held over this connection end)."""
        with self._holds_lock:
            handles = list(self._holds)
            self._holds.clear()
        for handle in handles:
            try:
                handle.close()
            except Exception:  # a handle whose connection went already
                pass

    def is_warm(self) -> bool:
        """Whether the next run may take this connection as it is: up, idle, and its host key still trusted."""
        return (not self._aborted and self.alive() and self.open_holds() == 0
                and self.host_key_still_trusted())

    def __enter__(self) -> "Transport":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


#: the transports by name; the registry fills it (:func:`register_transports`)
TRANSPORTS: dict[str, type[Transport]] = {}
#: the built-in ones, imported on first use when no registry filled the table (a test, a script)
BUILTIN_TRANSPORTS: dict[str, str] = {
    "paramiko": "runner.ssh.connection:ParamikoConnection",
    "openssh": "runner.ssh.openssh:OpenSshConnection",
}
DEFAULT_TRANSPORT = "paramiko"


def register_transports(classes: dict[str, type[Transport]]) -> None:
    """Make these transports (by name) the ones :func:`connection_for` knows (what the registry loaded)."""
    TRANSPORTS.clear()
    TRANSPORTS.update(classes)


def transport_class(name: str) -> type[Transport]:
    if name in TRANSPORTS:
        return TRANSPORTS[name]
    if name in BUILTIN_TRANSPORTS:
        module, _, attr = BUILTIN_TRANSPORTS[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    known = ", ".join(sorted(set(TRANSPORTS) | set(BUILTIN_TRANSPORTS)))
    raise HostError("?", f"unknown ssh transport {name!r} (known: {known})", "transport")


def connection_for(target: SshTarget) -> Transport:
    """A connection (not opened yet) to ``target`` over the transport ``target.transport`` names."""
    return transport_class(target.transport)(target)

