"""Host key policies: strict (known keys only), accept-new (record unknown keys), off.

A *changed* key is refused under every policy but ``off``: paramiko raises
BadHostKeyException before any policy is asked, and we turn it into a
HostError that says how to forget the old key.
"""

from __future__ import annotations

import sys
from pathlib import Path

import paramiko

from runner.ssh import known_hosts


class AcceptNewPolicy(paramiko.MissingHostKeyPolicy):
    """Trust a host seen for the first time and record its key (OpenSSH's accept-new)."""

    def __init__(self, path: Path):
        self.path = path

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        known_hosts.record_for(self.path, hostname, f"{key.get_name()} {key.get_base64()}")


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
