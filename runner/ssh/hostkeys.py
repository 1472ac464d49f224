"""Host key policies: strict (known keys only), accept-new (record unknown keys), off.

A *changed* key is refused under every policy but ``off``: paramiko raises
BadHostKeyException before any policy is asked, and we turn it into a
HostError that says how to forget the old key.
"""

from __future__ import annotations

import sys
import threading
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


_cache: dict[Path, tuple[tuple[int, int], paramiko.HostKeys]] = {}
_cache_lock = threading.Lock()


def _parsed(path: Path) -> paramiko.HostKeys | None:
    """The file's keys, parsed once per version of the file (not once per connection)."""
    try:
        st = path.stat()
    except OSError:
        return None
    version = (st.st_mtime_ns, st.st_size)
    with _cache_lock:
        hit = _cache.get(path)
        if hit and hit[0] == version:
            return hit[1]
    try:
        keys = paramiko.HostKeys(str(path))
    except (OSError, paramiko.SSHException):
        return None  # an unreadable or odd file must not stop the others
    with _cache_lock:
        _cache[path] = (version, keys)
    return keys


def load_known_hosts(client: paramiko.SSHClient, name: str, known_hosts: Path | None,
                     system: tuple[Path, ...]) -> None:
    """Give ``client`` the keys recorded for ``name`` (``host`` or ``[host]:port``).

    Only that host's entries are copied from the stack's known_hosts and the
    user's, so a run over many hosts parses each file once, not once a host.
    """
    for path in (*system, *([known_hosts] if known_hosts else [])):
        keys = _parsed(path)
        entry = keys.lookup(name) if keys is not None else None
        for key_type, key in (entry or {}).items():
            client.get_host_keys().add(name, key_type, key)


def trusted_keys(name: str, known_hosts: Path | None, system: tuple[Path, ...]) -> dict[str, paramiko.PKey]:
    """The keys recorded for ``name`` now, by key type (the stack's file wins over the user's, as in a connect)."""
    found: dict[str, paramiko.PKey] = {}
    for path in (*system, *([known_hosts] if known_hosts else [])):
        keys = _parsed(path)
        entry = keys.lookup(name) if keys is not None else None
        found.update(entry or {})
    return found


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
