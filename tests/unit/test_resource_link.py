"""``link``: validation, parsing, diffs and the atomic switch (no host)."""

from __future__ import annotations

import subprocess

import pytest

from runner.resources.api import ResourceError
from runner.resources.builtin.link import Link, LinkState

P = "/srv/app/current"


@pytest.mark.parametrize("name, kwargs, message", [
    (P, {}, "to \\(the link's target\\) is required"),
    (P, {"to": ""}, "to \\(the link's target\\) is required"),
    (P, {"to": "a\nb"}, "without NUL or newline"),
    ("current", {"to": "/x"}, "absolute path"),
    (P + "/", {"to": "/x"}, "must not end with '/'"),
    (P, {"to": "/x", "action": "replace"}, "unknown action 'replace'"),
])
def test_rejects(name, kwargs, message) -> None:
    with pytest.raises(ResourceError, match=message):
        Link(name, **kwargs)


def test_delete_needs_no_target() -> None:
    assert Link(P, action="delete").to is None


@pytest.mark.parametrize("output, state", [
    ("", LinkState()),
    ("type=link\nto=releases/1\n", LinkState("link", "releases/1")),
    ("type=link\nto=a=b c\n", LinkState("link", "a=b c")),
    ("type=link\n", LinkState("link", None)),
    ("type=file\nto=ignored\n", LinkState("file")),
    ("type=directory\n", LinkState("directory")),
])
def test_parse(output, state) -> None:
    assert Link(P, to="x").parse(output) == state


@pytest.mark.parametrize("kwargs, state, summaries", [
    ({"to": "releases/2"}, LinkState(), ["create -> releases/2"]),
    ({"to": "releases/2"}, LinkState("link", "releases/2"), []),
    ({"to": "releases/2"}, LinkState("link", "releases/1"), ["to releases/1 -> releases/2"]),
    ({"to": "releases/2"}, LinkState("file"), ["replace file with a link -> releases/2"]),
    ({"to": "releases/2"}, LinkState("other"), ["replace special file with a link -> releases/2"]),
    ({"to": "releases/2"}, LinkState("directory"), [f"create: {P} is a directory"]),
    ({"action": "delete"}, LinkState("link", "x"), ["delete"]),
    ({"action": "delete"}, LinkState(), []),
    ({"action": "delete"}, LinkState("file"), [f"delete: {P} is not a symlink"]),
], ids=["absent", "same", "switch", "file", "fifo", "directory", "delete", "delete-absent", "delete-file"])
def test_diff(kwargs, state, summaries) -> None:
    assert [c.summary for c in Link(P, **kwargs).diff(state)] == summaries


def test_apply_switches_atomically() -> None:
    link = Link(P, to="releases/2")
    script = link.apply(LinkState(), []).script
    assert "mktemp /srv/app/.runner-XXXXXX" in script
    assert 'ln -sfn -- releases/2 "$runner_t" && mv -Tf -- "$runner_t" /srv/app/current' in script
    assert "parent directory /srv/app does not exist" in script


def test_apply_in_a_local_shell(tmp_path) -> None:
    path = tmp_path / "cur rent"
    (tmp_path / "r1").mkdir()
    run = lambda script: subprocess.run(["sh", "-ec", script], capture_output=True, text=True)  # noqa: E731
    for target in ("r1", "r2"):
        link = Link(str(path), to=target)
        assert run(link.apply(LinkState(), []).script).returncode == 0
        assert path.readlink().as_posix() == target
        state = link.parse(run(link.probe()).stdout)
        assert link.diff(state) == []
        assert run(link.apply(state, []).script).stdout == "@@unchanged\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cur rent", "r1"]  # no temp link left
    (tmp_path / "d").mkdir()
    failed = run(Link(str(tmp_path / "d"), to="r1").apply(LinkState("directory"), []).script)
    assert failed.returncode == 1 and "is a directory" in failed.stderr
