"""Host key policies: strict (known keys only), accept-new (record unknown keys), off.

A *changed* key is refused under every policy but ``off``: paramiko raises
BadHostKeyException before any policy is asked, and we turn it into a
HostError that says how to forget the old key.
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
import threading
from pathlib import Path

import paramiko

_write_lock = threading.Lock()


def record_host_key(path: Path, name: str, key: paramiko.PKey) -> None:
    """Add ``name``'s key to the known_hosts file ``path``, atomically.

    Threads of this process are serialised by a lock and other processes by
    an flock on a companion lock file; the file is rewritten through a
    temporary file and a rename, so a reader never sees half of it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    line = f"{name} {key.get_name()} {key.get_base64()}\n"
    with _write_lock, open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = path.read_text() if path.exists() else ""
        if line in old.splitlines(keepends=True):
            return
        if old and not old.endswith("\n"):
            old += "\n"
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(old + line)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise


class AcceptNewPolicy(paramiko.MissingHostKeyPolicy):
    """Trust a host seen for the first time and record its key (OpenSSH's accept-new)."""

    def __init__(self, known_hosts: Path):
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        record_host_key(self.known_hosts, hostname, key)


class WarnOffPolicy(paramiko.MissingHostKeyPolicy):
    """Accept any key without recording it (host_key_policy: off). Says so once per host."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        print(f"runner: warning: not verifying the host key of {hostname} (host_key_policy: off)", file=sys.stderr)


def load_known_hosts(client: paramiko.SSHClient, known_hosts: Path | None, system: tuple[Path, ...]) -> None:
    """Give ``client`` the keys of the stack's known_hosts and of the user's."""
    for path in system:
        try:
            client.load_system_host_keys(str(path))
        except (OSError, paramiko.SSHException):
            pass  # an unreadable or odd user file must not stop the stack's own keys
    if known_hosts and known_hosts.is_file():
        client.load_host_keys(str(known_hosts))


def policy_for(name: str, known_hosts: Path | None) -> paramiko.MissingHostKeyPolicy:
    if name == "strict":
        return paramiko.RejectPolicy()
    if name == "accept-new":
        if known_hosts is None:
            raise ValueError("accept-new needs a known_hosts file to record keys in")
        return AcceptNewPolicy(known_hosts)
    if name == "off":
        return WarnOffPolicy()
    raise ValueError(f"unknown host key policy {name!r}")
