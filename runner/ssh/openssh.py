"""The ``openssh`` transport: the system ``ssh``, one master connection per host, shared by runs.

:meth:`OpenSshConnection.open` starts a ControlMaster (``ssh -M -N -f`` with
``ControlPersist=<persist>``) or finds the one a previous run started; each
command is then a session over that master's socket, so it costs no key
exchange and no authentication, also in the next ``runner`` process within
``persist`` seconds. runner asks the master for the session itself
(:mod:`runner.ssh.mux`), without an ``ssh`` passenger process; a master that
speaks another version of the mux protocol gets ``ssh`` passengers. A master
exits by itself that long after its last command; nothing waits on it (its
stdio is /dev/null and a file, never a pipe).

Everything ssh reads applies (~/.ssh/config or ``ssh.config_file``: ProxyJump,
certificates, security keys, agents), under ``BatchMode=yes``: it never
prompts. Sockets live in a directory of the user's, mode 0700
(:func:`control_dir`), under a name hashed from all that decides the
connection including the host's known_hosts lines now
(:func:`runner.ssh.openssh_options.control_name`): after a host key is removed
or changed the old master is never used again. A socket whose master does not
answer ``ssh -O check`` is removed and a fresh master started.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from runner.errors import HostError, UserError
from runner.ssh import mux
from runner.ssh import openssh_options as opts
from runner.ssh.api import (
    CHUNK,
    CommandCutOff,
    CommandResult,
    Stdin,
    Transport,
    stdin_through_sudo,
    sudo_error,
    sudo_failure,
    sudo_password_line,
    sudo_wrap,
)
from runner.ssh.target import SshTarget

CONTROL_DIR_ENV = "RUNNER_SSH_CONTROL_DIR"
CHECK_TIMEOUT = 10.0  # seconds ``ssh -O check`` may take (it only talks to a local socket)

Process = subprocess.Popen[bytes] | mux.MuxSession  # one command: an ``ssh`` passenger, or runner's own

_path_locks: dict[Path, threading.Lock] = {}
_path_locks_guard = threading.Lock()


def ssh_binary() -> str:
    found = shutil.which("ssh")
    if found is None:
        raise UserError("ssh.transport is openssh, but there is no ssh command on PATH",
                        hint="install the OpenSSH client, or set ssh.transport: paramiko")
    return found


def _private_dir(path: Path) -> Path:
    """``path`` as a directory of ours with mode 0700: created, or repaired; refused when someone else owns it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UserError(f"{path}: not a directory (ssh control sockets go there)",
                        hint=f"remove it, or point ${CONTROL_DIR_ENV} at a directory of yours")
    if st.st_uid != os.getuid():
        raise UserError(f"{path}: owned by uid {st.st_uid}, not by you: refusing to keep ssh control sockets there",
                        hint=f"remove it, or point ${CONTROL_DIR_ENV} at a directory of yours")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def control_dir(environ: dict[str, str] | None = None) -> Path:
    """Where the control sockets live: $RUNNER_SSH_CONTROL_DIR, $XDG_RUNTIME_DIR/runner-ssh or
    ~/.cache/runner/ssh (and /tmp/runner-ssh-<uid> when those are too long for a socket's name)."""
    env = os.environ if environ is None else environ
    if env.get(CONTROL_DIR_ENV):
        given = Path(env[CONTROL_DIR_ENV])
        if not opts.fits(given):
            raise UserError(f"${CONTROL_DIR_ENV} is too long a path for ssh control sockets: {given}",
                            hint=f"at most {opts.SUN_PATH_MAX - 39} bytes")
        return _private_dir(given)
    else:
        runtime = env.get("XDG_RUNTIME_DIR")
        candidates = [Path(runtime) / "runner-ssh"] if runtime and Path(runtime).is_dir() else []
        candidates.append(Path("~/.cache/runner/ssh").expanduser())
    candidates.append(Path(tempfile.gettempdir()) / f"runner-ssh-{os.getuid()}")
    for candidate in candidates:
        if opts.fits(candidate):
            return _private_dir(candidate)
    raise UserError(f"no directory for ssh control sockets has a name short enough "
                    f"(at most {opts.SUN_PATH_MAX - 39} bytes): {candidates[0]}",
                    hint=f"point ${CONTROL_DIR_ENV} at a short directory of yours")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold ``<path>.lock`` (threads and processes): one master start per socket at a time.

    The lock file is removed afterwards; a waiter that got the lock on a file removed meanwhile tries again.
    """
    with _path_locks_guard:
        thread_lock = _path_locks.setdefault(path, threading.Lock())
    lock_path = path.with_name(path.name + ".lock")
    with thread_lock:
        while True:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    try:
                        yield
                    finally:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(lock_path)
                    return
            finally:
                os.close(fd)


def master_running(ssh: str, path: Path) -> bool:
    """Whether a master listens at the socket ``path``.

    A connect to the unix socket, not an ``ssh -O check`` process: a master that
    is gone leaves a socket file that refuses connections, and the connect costs
    microseconds where the process costs milliseconds on every host of every run.
    (``ssh`` stays the parameter for callers that name the binary.)
    """
    if not path.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(CHECK_TIMEOUT)
    try:
        probe.connect(str(path))
    except OSError:  # refused (a stale socket), gone, or not a socket
        return False
    finally:
        probe.close()
    return True


def _pump(sink: IO[bytes], data: Iterable[bytes]) -> None:
    """Send ``data`` to a command's stdin, then close it; the remote side may stop reading early."""
    try:
        for chunk in data:
            sink.write(chunk)
            sink.flush()
    except (OSError, ValueError):  # it stopped reading (or the command was killed)
        pass
    finally:
        with contextlib.suppress(OSError, ValueError):
            sink.close()


def _drain_both(proc: Process, timeout: float | None) -> tuple[list[bytes], list[bytes], bool]:
    """A command's stdout and stderr read to their ends in the calling thread: (out, err, whether time ran out).

    One selector instead of a thread per stream: at 200 hosts the threads' stacks were a third of the
    controller's memory.
    """
    assert proc.stdout is not None and proc.stderr is not None
    out: list[bytes] = []
    err: list[bytes] = []
    sinks = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    deadline = None if timeout is None else time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for fd in sinks:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return out, err, True
            for key, _ in selector.select(left):
                try:
                    piece = os.read(key.fd, CHUNK)
                except OSError:
                    piece = b""
                if piece:
                    sinks[key.fd].append(piece)
                else:
                    selector.unregister(key.fd)
    return out, err, False


def _close_streams(proc: Process) -> None:
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        with contextlib.suppress(OSError, ValueError):
            if stream is not None:
                stream.close()


class _Held:
    """A command left running by :meth:`OpenSshConnection.hold`: reads like a paramiko channel."""

    def __init__(self, proc: Process, timeout: float | None,
                 on_close: Callable[[Process], None] = lambda proc: None):
        self.proc, self.timeout, self.on_close = proc, timeout, on_close
        self.closed = False

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def _read(self, stream: IO[bytes] | None, size: int) -> bytes:
        if stream is None or self.closed:
            return b""
        if not mux.readable(stream.fileno(), self.timeout):
            raise TimeoutError("no output in time")
        try:
            return os.read(stream.fileno(), size)
        except (OSError, ValueError):  # closed meanwhile
            return b""

    def recv(self, size: int) -> bytes:
        return self._read(self.proc.stdout, size)

    def recv_stderr(self, size: int) -> bytes:
        return self._read(self.proc.stderr, size)

    def exit_status_ready(self) -> bool:
        return self.proc.poll() is not None

    def recv_exit_status(self) -> int:
        try:
            return self.proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return -1

    def close(self) -> None:
        """End the command: its stdin ends, then the ssh process (and with it the remote session) goes."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError, ValueError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()
        self.on_close(self.proc)


class OpenSshConnection(Transport):
    """One host over the system ssh: a shared master, one session over its socket per command."""

    name = "openssh"

    def __init__(self, target: SshTarget):
        super().__init__(target)
        self.ssh = ""
        self.control: Path | None = None  # the master's socket, once open() found or started it
        self.started_master = False  # this connection started its master (it was not warm)
        self.passenger = "runner"  # who asks the master for each command: "runner" (runner.ssh.mux) or "ssh"
        self._procs: set[Process] = set()
        self._procs_lock = threading.Lock()

    # -- the master -------------------------------------------------------------

    def _path(self) -> Path:
        return control_dir() / opts.control_name(self.target, self.ssh)

    def open(self) -> "OpenSshConnection":
        if self._aborted:
            raise HostError(self.target.name, "connection closed: the run was interrupted", "interrupted")
        if self.control is not None:
            return self
        self.ssh = self.ssh or ssh_binary()
        path = self._path()
        try:  # a warm master answers its hello: one look, without the start lock
            version = mux.master_version(path, CHECK_TIMEOUT)
        except mux.MuxUnavailable:  # none yet, or the stale socket of one that ended
            self._ensure_master(path)
            try:
                version = mux.master_version(path, CHECK_TIMEOUT)
            except mux.MuxUnavailable:  # gone meanwhile: _spawn starts another
                version = mux.VERSION
        if version != mux.VERSION:
            self.passenger = "ssh"
        self.control = path
        return self

    def _ensure_master(self, path: Path) -> None:
        with _locked(path):
            if master_running(self.ssh, path):
                return
            with contextlib.suppress(FileNotFoundError):  # a stale socket: its master is gone
                path.unlink()
            self._start_master(path)

    def _start_master(self, path: Path) -> None:
        t = self.target
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(opts.master_command(self.ssh, t, path), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
            try:
                status = proc.wait(timeout=t.connect_timeout * 3 + 10)  # ssh's ConnectTimeout ends it before
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise HostError(t.name, f"connect timed out after {t.connect_timeout:g} s "
                                f"({t.user}@{t.address}:{t.port})", "timeout") from None
            errors.seek(0)
            said = errors.read().decode("utf-8", "replace")
        if status != 0:
            raise opts.connect_error(t, said)
        self.started_master = True

    def alive(self) -> bool:
        return (not self._aborted and self.control is not None and bool(self.ssh)
                and master_running(self.ssh, self.control))

    def host_key_still_trusted(self) -> bool:
        """The master was named after the host's known_hosts lines: they are still the same."""
        return self.control is not None and self._path() == self.control

    def close(self) -> None:
        """Close what runs over this connection; the master stays for the next run (until ``persist``)."""
        self.close_holds()
        self.control = None

    def abort(self) -> None:
        self._aborted = True
        self.close_holds()
        with self._procs_lock:
            procs = list(self._procs)
        for proc in procs:
            with contextlib.suppress(OSError):
                proc.kill()
        self.control = None

    # -- commands ---------------------------------------------------------------

    def _spawn(self, command: str, sudo: bool | None) -> tuple[Process, bool]:
        self.open()
        assert self.control is not None
        t = self.target
        use_sudo = t.sudo if sudo is None else sudo
        wire = sudo_wrap(command, t.sudo_password is not None) if use_sudo else command
        proc: Process
        if self.passenger == "runner":
            try:
                proc = mux.MuxSession(self.control, wire, connect_timeout=CHECK_TIMEOUT)
            except mux.MuxUnavailable:  # the master ended meanwhile (persist): start another
                self._ensure_master(self.control)
                try:
                    proc = mux.MuxSession(self.control, wire, connect_timeout=CHECK_TIMEOUT)
                except mux.MuxUnavailable as exc:
                    raise HostError(t.name, f"connection lost: {exc.strerror} ({t.user}@{t.address}:{t.port})",
                                    "connection-lost") from None
        else:
            if not self.control.exists():  # the master ended meanwhile (persist): start another
                self._ensure_master(self.control)
            proc = subprocess.Popen(opts.command_line(self.ssh, t, self.control, wire), stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        with self._procs_lock:
            self._procs.add(proc)
        self.commands_run += 1
        return proc, use_sudo

    def _done(self, proc: Process) -> None:
        with self._procs_lock:
            self._procs.discard(proc)

    def _cut_off(self, command: str, stderr: bytes, out: bytes) -> CommandCutOff | None:
        t = self.target
        if self._aborted:
            why: str | None = "the run was interrupted"
        else:
            why = opts.cut_off_reason(t, stderr.decode("utf-8", "replace"), self._master_answers())
        if why is None:
            return None
        return CommandCutOff(t.name, "connection lost", command, "connection-lost", out,
                             f": {why} ({t.user}@{t.address}:{t.port})")

    def _master_answers(self) -> bool:
        """Whether the master still answers a hello: more than a connect, which a master being killed
        may still accept (its listening socket outlives, by a moment, the session it just dropped)."""
        if self.control is None:
            return False
        try:
            return mux.master_version(self.control, CHECK_TIMEOUT) is not None
        except mux.MuxUnavailable:
            return False

    def run(self, command: str, stdin: Stdin = None, timeout: float | None = None,
            sudo: bool | None = None) -> CommandResult:
        t = self.target
        started = time.monotonic()
        proc, use_sudo = self._spawn(command, sudo)
        timeout = t.command_timeout if timeout is None else timeout
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        if stdin is None and not sudo_password_line(t, use_sudo):
            proc.stdin.close()  # nothing to send: no thread to send it
        else:  # stdin may be a stream that blocks (wire.py keeps it open): sent from a thread of its own
            threading.Thread(target=_pump, args=(proc.stdin, stdin_through_sudo(t, use_sudo, stdin)),
                             daemon=True).start()
        out, err, timed_out = _drain_both(proc, timeout)
        if not timed_out:  # the output ended; the command (a remote one that closed its output) may not have
            try:
                left = None if timeout is None else max(0.0, started + timeout - time.monotonic())
                status = proc.wait(timeout=left)
            except subprocess.TimeoutExpired:
                timed_out = True
        if timed_out:
            proc.kill()
            proc.wait()
            self._done(proc)
            _close_streams(proc)
            raise CommandCutOff(t.name, f"command timed out after {timeout:g} s", command, "timeout",
                                b"".join(out), f" ({t.user}@{t.address}:{t.port})")
        self._done(proc)
        _close_streams(proc)
        stdout, stderr = b"".join(out), b"".join(err) + getattr(proc, "error", b"")
        if status == 255 and (lost := self._cut_off(command, stderr, stdout)) is not None:
            raise lost
        if status < 0:  # killed by a signal: abort() (Ctrl-C)
            raise CommandCutOff(t.name, "connection lost", command, "connection-lost", stdout,
                                f": the run was interrupted ({t.user}@{t.address}:{t.port})")
        if use_sudo and status != 0 and (why := sudo_failure(stderr)):
            raise sudo_error(t, why)
        return CommandResult(command, status, stdout, stderr, time.monotonic() - started)

    def hold(self, command: str, timeout: float | None = None, send: bytes = b"") -> tuple[str, _Held]:
        t = self.target
        proc, use_sudo = self._spawn(command, None)
        handle = _Held(proc, t.command_timeout if timeout is None else timeout, self._done)
        first = sudo_password_line(t, use_sudo)
        unsent: BaseException | None = None
        if first or send:
            try:
                assert proc.stdin is not None
                proc.stdin.write(first + send)
                proc.stdin.flush()
            except (OSError, ValueError) as exc:  # ended before reading it: what it said still counts
                unsent = exc
        line = b""
        try:
            while not line.endswith(b"\n"):
                data = handle.recv(1)
                if not data:
                    break
                line += data
        except TimeoutError:
            handle.close()
            raise HostError(t.name, f"no answer from: {command[:80]} ({t.user}@{t.address}:{t.port})",
                            "timeout") from None
        if unsent is not None and not line:
            handle.close()
            raise HostError(t.name, f"connection lost: {unsent} ({t.user}@{t.address}:{t.port})", "connection-lost")
        return line.decode("utf-8", "replace").strip(), self._track(handle)
