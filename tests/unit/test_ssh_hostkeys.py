"""known_hosts files are parsed once per version of the file, not once per connection."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from runner.ssh import hostkeys, known_hosts


def public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The paths ``hostkeys`` parses, one item per parse."""
    seen: list[Path] = []
    real = hostkeys._parse

    def counting(path: Path) -> hostkeys.ParsedKnownHosts:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(hostkeys, "_parse", counting)
    monkeypatch.setattr(hostkeys, "_cache", {})
    return seen


def keys_of(path: Path, name: str) -> list[str]:
    client = paramiko.SSHClient()
    hostkeys.load_known_hosts(client, name, path, ())
    entry = client.get_host_keys().lookup(name) or {}
    return sorted(f"{t} {k.get_base64()}" for t, k in entry.items())


def test_one_parse_for_many_hosts(tmp_path: Path, parses: list[Path]) -> None:
    path = tmp_path / "known_hosts"
    keys = {port: public_key() for port in range(2200, 2400)}
    for port, key in keys.items():
        known_hosts.record(path, "127.0.0.1", port, key, comment=f"c{port}")
    for port, key in keys.items():
        assert keys_of(path, f"[127.0.0.1]:{port}") == [key]
    assert parses == [path]


def test_a_recorded_key_is_seen_by_the_next_lookup(tmp_path: Path, parses: list[Path]) -> None:
    path = tmp_path / "known_hosts"
    first, second = public_key(), public_key()
    known_hosts.record(path, "127.0.0.1", 2200, first)
    assert keys_of(path, "[127.0.0.1]:2200") == [first]
    hostkeys.AcceptNewPolicy(path).missing_host_key(
        paramiko.SSHClient(), "[127.0.0.1]:2201", paramiko.Ed25519Key(data=_blob(second)))
    assert keys_of(path, "[127.0.0.1]:2201") == [second]  # the writer dropped the parsed copy
    known_hosts.record(path, "127.0.0.1", 2200, second)  # the same size: only the rewrite tells
    assert keys_of(path, "[127.0.0.1]:2200") == [second]
    assert keys_of(path, "[127.0.0.1]:2201") == [second]
    assert parses == [path, path, path]


def test_same_keys_as_paramiko_reads_them(tmp_path: Path, parses: list[Path]) -> None:
    """Plain and hashed host fields, several names on a line, two lines of one type (the first wins), a
    line too short to be an entry."""
    path = tmp_path / "known_hosts"
    a, b, c = public_key(), public_key(), public_key()
    hashed = paramiko.HostKeys.hash_host("hashed.example")
    path.write_text(f"# a comment\n\nalpha,beta {a}\n{hashed} {b}\nalpha {c}\n"
                    "short line\n")
    reference = paramiko.HostKeys(str(path))
    for name in ("alpha", "beta", "hashed.example", "gamma"):
        expected = sorted({f"{t} {k.get_base64()}" for t, k in (reference.lookup(name) or {}).items()})
        assert keys_of(path, name) == expected
    assert keys_of(path, "alpha") == [a]
    assert parses == [path]


def _blob(public: str) -> bytes:
    import base64

    return base64.b64decode(public.split()[1])
