"""One SSH connection to one host, and running commands over it.

Commands run as ``sh -c`` strings built by the caller with shlex.quote.
stdin is streamed in chunks while stdout and stderr are read, so neither side
can fill a buffer and stall. Every failure becomes a :class:`HostError` whose
``cause`` says what kind it is (refused, banner, timeout, connection-lost, auth,
host-key, sudo ...).

A host that stops answering (paused, cut off by the network) keeps its TCP
connection looking alive for a long time; :class:`_Keepalive` asks it for an
answer every ``keepalive_interval`` seconds and drops the connection after
``keepalive_count`` unanswered ones, so a command on it ends in about that
time instead of at ``command_timeout``.
"""

from __future__ import annotations

import shlex
import socket
import threading
import time
from pathlib import Path

from runner.errors import HostError
from runner.ssh.api import (  # noqa: F401  (CHUNK, CommandResult, Stdin, sudo_wrap: importable from here too)
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
from runner.ssh.hostkeys import load_known_hosts, policy_for, trusted_keys
from runner.ssh.paramiko_import import paramiko
from runner.ssh.target import SshTarget


class _Keepalive(threading.Thread):
    """Asks the host for an answer every ``interval`` s; closes the transport after ``count`` unanswered in a row.

    paramiko's own keepalive asks for no reply, so it never notices a peer that
    stopped answering: this one sends a global request that wants a reply
    (sshd answers every one, if only to refuse it) from a helper thread, and
    counts the intervals the answer is overdue (OpenSSH's ServerAliveCountMax).
    """

    def __init__(self, transport: paramiko.Transport, interval: float, count: int, name: str):
        super().__init__(name=f"keepalive {name}", daemon=True)
        self.transport, self.interval, self.count = transport, interval, count
        self.stopped = threading.Event()
        self.lost = False

    def _ask(self) -> None:
        try:
            self.transport.global_request("keepalive@openssh.com", wait=True)
        except Exception:  # the transport died meanwhile: the run loop notices
            pass

    def run(self) -> None:
        pending: threading.Thread | None = None
        missed = 0
        while not self.stopped.wait(self.interval):
            if not self.transport.is_active():
                return
            if pending is not None and pending.is_alive():
                missed += 1
                if missed >= self.count:
                    self.lost = True
                    self.transport.close()  # ends every channel: blocked reads and waits return
                    return
                continue
            missed = 0
            pending = threading.Thread(target=self._ask, name=self.name + " ask", daemon=True)
            pending.start()

    def stop(self) -> None:
        self.stopped.set()


class ParamikoConnection(Transport):
    """An SSH connection to one host over paramiko; opened once and reused for the whole run."""

    name = "paramiko"

    def __init__(self, target: SshTarget):
        super().__init__(target)
        self.client: paramiko.SSHClient | None = None
        self._keepalive: _Keepalive | None = None

    # -- connecting ---------------------------------------------------------

    @property
    def _where(self) -> str:
        t = self.target
        return f" ({t.user}@{t.address}:{t.port})"

    def _fail(self, message: str, cause: str, *, show_target: bool = True) -> HostError:
        return HostError(self.target.name, message + (self._where if show_target else ""), cause)

    def _no_banner(self, client: paramiko.SSHClient) -> HostError | None:
        """The error for a peer that took the TCP connection and sent no SSH banner, if that happened (call before
        ``client.close()``, which forgets the transport)."""
        transport = client.get_transport()
        if transport is None or transport.remote_version:  # no TCP session yet, or the banner came
            return None
        t = self.target
        return self._fail(f"no SSH banner from {t.address}:{t.port} within {t.connect_timeout:g} s "
                          f"(something listens there that does not speak SSH, or sshd is stuck)", "banner",
                          show_target=False)

    def _load_key(self, path: Path) -> paramiko.PKey:
        """Load a private key ourselves: paramiko's own loop hides auth failures behind parse errors."""
        try:
            return paramiko.PKey.from_path(path)
        except paramiko.PasswordRequiredException:
            raise self._fail(f"ssh key {path} is encrypted: add it to ssh-agent (ssh-add {path})", "key") from None
        except (OSError, paramiko.SSHException, ValueError) as exc:
            raise self._fail(f"cannot read ssh key {path}: {exc}", "key") from None

    def open(self) -> "ParamikoConnection":
        if self.client is not None:
            return self
        if self._aborted:
            raise self._fail("connection closed: the run was interrupted", "interrupted")
        t = self.target
        client = paramiko.SSHClient()
        if t.host_key_policy != "off":  # off: check nothing, not even changed keys
            load_known_hosts(client, t.known_hosts_name, t.known_hosts, t.system_known_hosts)
        client.set_missing_host_key_policy(policy_for(t.host_key_policy, t.known_hosts))
        pkey = self._load_key(t.key_files[0]) if t.key_files else None
        try:
            client.connect(
                t.address, port=t.port, username=t.user, pkey=pkey,
                key_filename=[str(k) for k in t.key_files[1:]] or None,
                allow_agent=t.use_agent, look_for_keys=not t.key_files,
                timeout=t.connect_timeout, banner_timeout=t.connect_timeout, auth_timeout=t.connect_timeout,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            known = t.known_hosts or "known_hosts"
            raise self._fail(
                f"host key changed: expected {exc.expected_key.get_name()} "
                f"{exc.expected_key.fingerprint}, got {exc.key.fingerprint}; refusing to connect. "
                f"If the host was rebuilt, forget the old key with "
                f"`ssh-keygen -R {shlex.quote(t.known_hosts_name)} -f {known}`", "host-key-changed") from None
        except paramiko.AuthenticationException as exc:
            client.close()
            raise self._fail(f"authentication failed: {exc}", "auth") from None
        except paramiko.ssh_exception.NoValidConnectionsError as exc:
            client.close()
            tried = ", ".join(dict.fromkeys(f"[{a}]:{p}" if ":" in a else f"{a}:{p}"
                                            for a, p, *_ in exc.errors))
            raise self._fail(f"connection refused at {tried}", "refused", show_target=False) from None
        except TimeoutError:
            client.close()
            raise self._fail(f"connect timed out after {t.connect_timeout:g} s", "timeout") from None
        except socket.gaierror as exc:
            client.close()
            raise self._fail(f"cannot resolve {t.address}: {exc.strerror}", "dns") from None
        except (paramiko.SSHException, EOFError) as exc:
            no_banner = self._no_banner(client)  # before close(), which forgets the transport
            client.close()
            if no_banner is not None:
                raise no_banner from None
            if "not found in known_hosts" in str(exc):
                raise self._fail(
                    f"unknown host key for {t.known_hosts_name} (host_key_policy: strict); "
                    f"add it to {t.known_hosts} (ssh-keyscan) or set host_key_policy: accept-new",
                    "host-key-unknown") from None
            raise self._fail(f"ssh error: {exc}", "ssh") from None
        except OSError as exc:
            no_banner = self._no_banner(client)  # before close(), which forgets the transport
            client.close()
            if no_banner is not None:
                raise no_banner from None
            raise self._fail(f"network error: {exc.strerror or exc}", "network") from None
        transport = client.get_transport()
        if transport is not None:
            self._keepalive = _Keepalive(transport, t.keepalive_interval, t.keepalive_count, t.name)
            self._keepalive.start()
        self.client = client
        return self

    def close(self) -> None:
        if self._keepalive is not None:
            self._keepalive.stop()
            self._keepalive = None
        if self.client is not None:
            self.client.close()
            self.client = None

    def alive(self) -> bool:
        client = self.client
        transport = client.get_transport() if client is not None else None
        return transport is not None and self._lost(transport) is None

    def host_key_still_trusted(self) -> bool:
        """The key the host showed is still the one known_hosts has for it (policy off: nothing to check)."""
        t = self.target
        if t.host_key_policy == "off":
            return True
        transport = self.client.get_transport() if self.client is not None else None
        if transport is None:
            return False
        key = transport.get_remote_server_key()
        known = trusted_keys(t.known_hosts_name, t.known_hosts, t.system_known_hosts).get(key.get_name())
        return known is not None and known.asbytes() == key.asbytes()

    def _lost(self, transport: paramiko.Transport | None) -> str | None:
        """Why the connection (``transport``) is gone, or None while it is up."""
        if self._aborted:
            return "the run was interrupted"
        keepalive = self._keepalive
        if keepalive is not None and keepalive.lost:
            t = self.target
            return (f"no answer to {t.keepalive_count} keepalives in "
                    f"{t.keepalive_count * t.keepalive_interval:g} s")
        if transport is None or not transport.is_active():
            return "the host closed the connection"
        return None

    # -- running commands ---------------------------------------------------

    def _start(self, command: str, sudo: bool | None = None) -> tuple[paramiko.Channel, bool]:
        """Open a channel running ``command`` (through sudo when the target wants it); (channel, through sudo)."""
        self.open()
        assert self.client is not None
        t = self.target
        use_sudo = t.sudo if sudo is None else sudo
        wire = sudo_wrap(command, t.sudo_password is not None) if use_sudo else command
        transport = self.client.get_transport()
        try:
            channel = transport.open_session(timeout=t.connect_timeout)  # type: ignore[union-attr]
            channel.exec_command(wire)
        except (paramiko.SSHException, OSError, EOFError, AttributeError) as exc:
            why = self._lost(transport) or str(exc) or type(exc).__name__
            raise CommandCutOff(t.name, "connection lost", command, "connection-lost", b"",
                                f": {why}{self._where}") from None
        self.commands_run += 1
        return channel, use_sudo

    def hold(self, command: str, timeout: float | None = None, send: bytes = b"") -> tuple[str, paramiko.Channel]:
        """Start ``command`` and leave it running; return its first line of output and its channel.

        The command keeps its stdin open until the channel is closed, by the
        caller or because this connection ends (the runner exits or dies), so
        a command that waits for the end of its stdin lives exactly as long as
        this connection: what a lock held on a host needs. ``send`` is written
        to its stdin at once (before the first line is read).
        """
        t = self.target
        channel, use_sudo = self._start(command)
        first = sudo_password_line(t, use_sudo)
        unsent: BaseException | None = None
        if first or send:
            try:
                channel.sendall(first + send)
            except (paramiko.SSHException, OSError) as exc:  # ended before reading it: what it said still counts
                unsent = exc
        channel.settimeout(t.command_timeout if timeout is None else timeout)
        line = b""
        try:
            while not line.endswith(b"\n"):
                data = channel.recv(1)
                if not data:
                    break
                line += data
        except TimeoutError:
            channel.close()
            raise self._fail(f"no answer from: {command[:80]}", "timeout") from None
        if unsent is not None and not line:
            channel.close()
            raise self._fail(f"connection lost: {unsent}", "connection-lost")
        return line.decode("utf-8", "replace").strip(), self._track(channel)

    def run(self, command: str, stdin: Stdin = None, timeout: float | None = None,
            sudo: bool | None = None) -> CommandResult:
        """Run ``command`` (a shell string) and wait for it; stream ``stdin`` to it.

        ``sudo`` defaults to the target's setting (on for a non-root user).
        A non-zero exit status is returned, not raised; a timeout, a lost
        connection or a sudo that wants a password raises HostError.
        """
        t = self.target
        started = time.monotonic()
        channel, use_sudo = self._start(command, sudo)
        chunks_in = stdin_through_sudo(t, use_sudo, stdin)
        timeout = t.command_timeout if timeout is None else timeout
        out: list[bytes] = []
        err: list[bytes] = []
        errors: list[BaseException] = []

        def pump_stdin() -> None:
            try:
                for chunk in chunks_in:
                    channel.sendall(chunk)
                channel.shutdown_write()
            except (OSError, EOFError, paramiko.SSHException) as exc:  # remote closed early: it stopped reading
                if not channel.exit_status_ready():
                    errors.append(exc)

        def drain(read, sink: list[bytes]) -> None:
            while data := read(CHUNK):
                sink.append(data)

        threads = [
            threading.Thread(target=pump_stdin, daemon=True),
            threading.Thread(target=drain, args=(channel.recv, out), daemon=True),
            threading.Thread(target=drain, args=(channel.recv_stderr, err), daemon=True),
        ]
        for th in threads:
            th.start()
        finished = channel.status_event.wait(timeout)  # also set when the connection goes: close, keepalive
        if not finished:
            channel.close()
            for th in threads[1:]:
                th.join(timeout=1.0)
            raise CommandCutOff(t.name, f"command timed out after {timeout:g} s", command, "timeout",
                                b"".join(out), self._where)
        for th in threads[1:]:
            th.join(timeout=max(1.0, t.connect_timeout))
        status = channel.recv_exit_status()
        channel.close()
        # no exit status came: the connection went first
        if status == -1 and (why := self._lost(channel.get_transport())):
            raise CommandCutOff(t.name, "connection lost", command, "connection-lost", b"".join(out),
                                f": {why}{self._where}")
        stderr = b"".join(err)
        if use_sudo and status != 0 and (why := sudo_failure(stderr)):
            raise sudo_error(t, why)
        return CommandResult(command, status, b"".join(out), stderr, time.monotonic() - started)


#: the name it had when it was the only transport
Connection = ParamikoConnection
