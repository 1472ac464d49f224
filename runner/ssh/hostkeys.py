"""Host key policies: strict (known keys only), accept-new (record unknown keys), off.

A *changed* key is refused under every policy but ``off``: paramiko raises
BadHostKeyException before any policy is asked, and we turn it into a
HostError that says how to forget the old key.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from runner.ssh import known_hosts
from runner.ssh.paramiko_import import paramiko


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


class ParsedKnownHosts:
    """One version of a known_hosts file, parsed once and indexed by host field.

    Plain host fields are found in a dict; hashed ones (``|1|salt|hash``, OpenSSH's
    HashKnownHosts) are matched the way paramiko matches them, once per looked-up name.
    """

    def __init__(self, keys: paramiko.HostKeys):
        self.plain: dict[str, list[tuple[int, paramiko.PKey]]] = {}
        self.hashed: list[tuple[int, paramiko.hostkeys.HostKeyEntry]] = []
        for index, entry in enumerate(keys._entries):  # paramiko's entries in file order (it has no public list)
            if entry.key is None:
                continue
            if any(field.startswith("|1|") for field in entry.hostnames):
                self.hashed.append((index, entry))
            for field in entry.hostnames:
                if not field.startswith("|1|"):
                    self.plain.setdefault(field, []).append((index, entry.key))
        self._found: dict[str, list[tuple[str, paramiko.PKey]]] = {}
        self._lock = threading.Lock()

    def lookup(self, name: str) -> list[tuple[str, paramiko.PKey]]:
        """(key type, key) for ``name``: one key per type, the first in the file (as paramiko's lookup)."""
        with self._lock:
            found = self._found.get(name)
        if found is not None:
            return found
        matches = list(self.plain.get(name, ()))
        for index, entry in self.hashed:
            if not name.startswith("|1|") and any(
                    field.startswith("|1|") and paramiko.HostKeys.hash_host(name, field) == field
                    for field in entry.hostnames):
                matches.append((index, entry.key))
        by_type: dict[str, paramiko.PKey] = {}
        for _, key in sorted(matches, key=lambda match: match[0]):
            by_type.setdefault(key.get_name(), key)
        found = list(by_type.items())
        with self._lock:
            self._found[name] = found
        return found


_cache: dict[Path, tuple[tuple[int, int, int], ParsedKnownHosts]] = {}
_cache_lock = threading.Lock()


def _parse(path: Path) -> ParsedKnownHosts:
    """Read and parse one known_hosts file (what the cache saves doing once per connection)."""
    return ParsedKnownHosts(paramiko.HostKeys(str(path)))


def _forget(path: Path) -> None:
    """Drop the parsed copy of ``path``: :mod:`runner.ssh.known_hosts` has just rewritten it."""
    with _cache_lock:
        _cache.pop(Path(path), None)


known_hosts.on_rewrite(_forget)


def parsed_known_hosts(path: Path) -> ParsedKnownHosts | None:
    """The file's keys, parsed once per version of the file (not once per connection).

    A version is (inode, mtime_ns, size): the writers of :mod:`runner.ssh.known_hosts` replace
    the file by a rename (a new inode), and also drop the parsed copy as they write, so a key
    recorded under accept-new is seen by the next connection even within one mtime tick.
    None: the file is missing or cannot be parsed.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return None
    version = (st.st_ino, st.st_mtime_ns, st.st_size)
    with _cache_lock:
        hit = _cache.get(path)
        if hit and hit[0] == version:
            return hit[1]
    try:
        parsed = _parse(path)
    except (OSError, paramiko.SSHException, ValueError):
        return None  # an unreadable or odd file must not stop the others
    with _cache_lock:
        _cache[path] = (version, parsed)
    return parsed


def load_known_hosts(client: paramiko.SSHClient, name: str, known_hosts: Path | None,
                     system: tuple[Path, ...]) -> None:
    """Give ``client`` the keys recorded for ``name`` (``host`` or ``[host]:port``).

    Only that host's entries are copied from the stack's known_hosts and the
    user's, so a run over many hosts parses each file once, not once a host,
    and finds a host's entries without going through every line.
    """
    for path in (*system, *([known_hosts] if known_hosts else [])):
        parsed = parsed_known_hosts(path)
        for key_type, key in (parsed.lookup(name) if parsed is not None else ()):
            client.get_host_keys().add(name, key_type, key)


def trusted_keys(name: str, known_hosts: Path | None, system: tuple[Path, ...]) -> dict[str, paramiko.PKey]:
    """The keys recorded for ``name`` now, by key type (the stack's file wins over the user's, as in a connect)."""
    found: dict[str, paramiko.PKey] = {}
    for path in (*system, *([known_hosts] if known_hosts else [])):
        parsed = parsed_known_hosts(path)
        found.update(parsed.lookup(name) if parsed is not None else ())
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
