"""Recording and forgetting host keys in a stack's known_hosts file.

The one writer of that file: the SSH transport records keys here under
``host_key_policy: accept-new``, and providers that learn a host's key
through a trusted channel (the docker provider, with ``docker exec``) record
it here before the first connection. Lines are written as OpenSSH does,
``[127.0.0.1]:PORT ssh-ed25519 AAAA... COMMENT``; the optional comment (a
container's name, say) lets an entry be found again after its port changed or
its host is gone. Every change rewrites the file atomically (temp file +
rename) under a thread lock and an fcntl lock on a ``.lock`` file beside it,
so parallel starts in one process or several never lose an entry.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

_thread_lock = threading.Lock()
_listeners: list[Callable[[Path], None]] = []


def on_rewrite(listener: Callable[[Path], None]) -> None:
    """Call ``listener(path)`` whenever this module has rewritten a known_hosts file (a parse cache drops it)."""
    if listener not in _listeners:
        _listeners.append(listener)


def host_pattern(host: str, port: int) -> str:
    """The host field OpenSSH (and paramiko) look up: ``host`` for port 22, else ``[host]:port``."""
    return host if port == 22 else f"[{host}]:{port}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _thread_lock, open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _rewrite(path: Path, change: Callable[[list[str]], list[str]]) -> None:
    lines = path.read_text().splitlines() if path.exists() else []
    new = change(lines)
    if new == lines and path.exists():
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.writelines(line + "\n" for line in new)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        for listener in _listeners:  # also after a failed write: the file may have changed all the same
            listener(path)


def _fields(line: str) -> list[str]:
    text = line.strip()
    return [] if not text or text.startswith("#") else text.split()


def _matches(line: str, patterns: set[str], comments: set[str]) -> bool:
    fields = _fields(line)
    if len(fields) < 3 or fields[0].startswith("@"):  # markers (@cert-authority, @revoked) are left alone
        return False
    if patterns and set(fields[0].split(",")) & patterns:
        return True
    return bool(comments) and len(fields) > 3 and fields[3] in comments


def record(path: Path, host: str, port: int, key: str, comment: str | None = None) -> None:
    """Record ``key`` (``"ssh-ed25519 AAAA..."``, a trailing comment is dropped) for host:port.

    Replaces every line for the same host:port and, when ``comment`` is given,
    every line with that comment (the same host seen earlier on another port).
    """
    record_for(path, host_pattern(host, port), key, comment)


def record_for(path: Path, pattern: str, key: str, comment: str | None = None) -> None:
    """Like :func:`record`, for a host field already in known_hosts form (``[host]:port``)."""
    key_fields = key.split()
    if len(key_fields) < 2:
        raise ValueError(f"not a public key line: {key!r}")
    line = " ".join([pattern, key_fields[0], key_fields[1], *([comment] if comment else [])])
    comments = {comment} if comment else set()

    def change(lines: list[str]) -> list[str]:
        return [old for old in lines if not _matches(old, {pattern}, comments)] + [line]

    with _locked(path):
        _rewrite(path, change)


def record_keys(path: Path, host: str, port: int, keys: Iterable[str], comment: str | None = None) -> None:
    """Record every key of ``keys`` for host:port (a host has one key per type), replacing what was there.

    Like :func:`record`, for a provider that learns all of a host's keys at once
    (the ec2 provider reads them from the instance's console output).
    """
    pattern = host_pattern(host, port)
    lines = []
    for key in keys:
        key_fields = key.split()
        if len(key_fields) < 2:
            raise ValueError(f"not a public key line: {key!r}")
        lines.append(" ".join([pattern, key_fields[0], key_fields[1], *([comment] if comment else [])]))
    if not lines:
        raise ValueError("record_keys needs at least one key")
    comments = {comment} if comment else set()

    def change(old_lines: list[str]) -> list[str]:
        return [old for old in old_lines if not _matches(old, {pattern}, comments)] + lines

    with _locked(path):
        _rewrite(path, change)


def forget(path: Path, hosts: Iterable[tuple[str, int]] = (), comments: Iterable[str] = ()) -> None:
    """Remove the lines for the given (host, port) pairs and with the given comments."""
    patterns = {host_pattern(h, p) for h, p in hosts}
    wanted = set(comments)
    if not (patterns or wanted) or not path.exists():
        return
    with _locked(path):
        _rewrite(path, lambda lines: [old for old in lines if not _matches(old, patterns, wanted)])


def lookup(path: Path, host: str, port: int) -> list[str]:
    """The ``"type base64"`` keys recorded for host:port (for tests and diagnostics)."""
    if not path.exists():
        return []
    pattern = host_pattern(host, port)
    found = []
    for line in path.read_text().splitlines():
        fields = _fields(line)
        if len(fields) >= 3 and pattern in fields[0].split(","):
            found.append(f"{fields[1]} {fields[2]}")
    return found
