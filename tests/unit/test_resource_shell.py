"""Shared snippet helpers of the built-in resource types (no host; the atomic write runs in a local sh)."""

from __future__ import annotations

import subprocess

import pytest

from runner.resources.api import ResourceError
from runner.resources.builtin.shell import (
    check_account,
    check_path,
    chown_chmod,
    install_payload,
    normalise_mode,
    parent_of,
    parse_kv,
    stat_mode,
)


@pytest.mark.parametrize("value, expected", [
    (None, None),
    ("644", "0644"),
    ("0644", "0644"),
    ("4755", "4755"),
    (0o644, "0644"),
    (0o2775, "2775"),
    (0, "0000"),
])
def test_normalise_mode(value, expected) -> None:
    assert normalise_mode(value, "file[x]") == expected


@pytest.mark.parametrize("value, message", [
    ("rw-r--r--", "mode must be an octal string"),
    ("0888", "mode must be an octal string"),
    ("64", "mode must be an octal string"),
    ("00644", "mode must be an octal string"),
    (True, "mode must be an octal string"),
    (0o17777, "out of range"),
    (-1, "out of range"),
    (6.44, "mode must be an octal string"),
])
def test_normalise_mode_rejects(value, message) -> None:
    with pytest.raises(ResourceError, match=message):
        normalise_mode(value, "file[x]")


@pytest.mark.parametrize("value, expected", [("644", "0644"), ("4755", "4755"), ("0", "0000"), ("", None),
                                             ("x", None), ("9", None)])
def test_stat_mode(value, expected) -> None:
    assert stat_mode(value) == expected


def test_parse_kv_keeps_values_with_equals_and_ignores_noise() -> None:
    out = "type=file\ngarbage line\nmode=644\ncontent=YQ==\n=novalue\nk=\nmode=600\n"
    assert parse_kv(out) == {"type": "file", "mode": "600", "content": "YQ==", "k": ""}


@pytest.mark.parametrize("path, parent", [("/a/b", "/a"), ("/a/b/", "/a"), ("/a", "/"), ("/", "/")])
def test_parent_of(path, parent) -> None:
    assert parent_of(path) == parent


@pytest.mark.parametrize("value, ok", [("/x", True), ("x", False), ("", False), (None, False), ("/a\0b", False)])
def test_check_path(value, ok) -> None:
    if ok:
        assert check_path(value, "file[x]") == value
    else:
        with pytest.raises(ResourceError):
            check_path(value, "file[x]")


@pytest.mark.parametrize("value, ok", [("www-data", True), (33, True), ("a b", False), ("-x", False),
                                       ("a:b", False), ("a,b", False), (-1, False), (True, False), ("x" * 33, False)])
def test_check_account(value, ok) -> None:
    if ok:
        assert check_account(value, "user[x]", "owner") == value
    else:
        with pytest.raises(ResourceError, match="owner must be a user/group name or a numeric id"):
            check_account(value, "user[x]", "owner")


@pytest.mark.parametrize("owner, group, mode, expected", [
    (None, None, None, []),
    ("app", None, None, ["chown -- app X"]),
    ("app", "web", "0640", ["chown -- app:web X", "chmod -- 0640 X"]),
    (None, "web", None, ["chgrp -- web X"]),
    (0, 0, None, ["chown -- 0:0 X"]),
])
def test_chown_chmod(owner, group, mode, expected) -> None:
    assert chown_chmod("X", owner, group, mode) == expected


def _sh(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env})


def test_install_payload_replaces_atomically_and_keeps_metadata(tmp_path) -> None:
    target = tmp_path / "dir with 'q' $(x)" / "f;`y`"
    target.parent.mkdir()
    target.write_text("old")
    target.chmod(0o600)
    payload = tmp_path / "payload"
    payload.write_text("new content")
    result = _sh(install_payload('"$P0"', str(target)), P0=str(payload))
    assert result.returncode == 0, result.stderr
    assert target.read_text() == "new content"
    assert oct(target.stat().st_mode & 0o7777) == "0o600"  # no mode given: the old one is kept
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp file left

    result = _sh(install_payload('"$P0"', str(target), mode="0640"), P0=str(payload))
    assert result.returncode == 0 and oct(target.stat().st_mode & 0o7777) == "0o640"


def test_install_payload_new_file_is_0644_and_failure_leaves_no_temp(tmp_path) -> None:
    payload = tmp_path / "payload"
    payload.write_text("x")
    target = tmp_path / "new"
    assert _sh(install_payload('"$P0"', str(target)), P0=str(payload)).returncode == 0
    assert oct(target.stat().st_mode & 0o7777) == "0o644"
    failing = install_payload('"$P0"', str(tmp_path / "other"), owner="no-such-user-xyz")
    result = _sh(failing, P0=str(payload))
    assert result.returncode == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "payload"]
