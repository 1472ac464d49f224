"""``directory``: validation, parsing, diffs and steps (no host)."""

from __future__ import annotations

import pytest

from runner.resources.api import ResourceError
from runner.resources.builtin.directory import Directory, DirectoryState

D = "/srv/app/shared"
HERE = DirectoryState("directory", "0755", "root", 0, "root", 0)


@pytest.mark.parametrize("name, kwargs, message", [
    ("srv", {}, "path must be an absolute path"),
    (D, {"recursive": "yes"}, "recursive must be True or False"),
    (D, {"mode": "x"}, "mode must be an octal string"),
    ("/", {"action": "delete"}, "refusing to delete /"),
    ("/etc/", {"action": "delete"}, "refusing to delete /etc/"),
    (D, {"owner": "a b"}, "owner must be"),
])
def test_rejects(name, kwargs, message) -> None:
    with pytest.raises(ResourceError, match=message):
        Directory(name, **kwargs)


@pytest.mark.parametrize("output, state", [
    ("", DirectoryState()),
    ("type=directory\nmode=755\nowner=root\nuid=0\ngroup=root\ngid=0\n", HERE),
    ("type=directory\nmode=2775\n", DirectoryState("directory", "2775")),
    ("type=link\n", DirectoryState("link")),
    ("type=other\n", DirectoryState("other")),
    ("type=?\n", DirectoryState()),
])
def test_parse(output, state) -> None:
    assert Directory(D).parse(output) == state


@pytest.mark.parametrize("kwargs, state, summaries", [
    ({}, DirectoryState(), ["create"]),
    ({}, HERE, []),
    ({"mode": "755", "owner": "root", "group": 0}, HERE, []),
    ({"mode": "0750", "owner": "app", "group": "app"}, HERE,
     ["mode 0755 -> 0750", "owner root -> app", "group root -> app"]),
    ({}, DirectoryState("other"), [f"create: {D} exists and is not a directory"]),
    ({}, DirectoryState("link"), [f"create: {D} exists and is not a directory"]),
    ({"action": "delete"}, HERE, ["delete"]),
    ({"action": "delete"}, DirectoryState(), []),
    ({"action": "delete"}, DirectoryState("other"), [f"delete: {D} is not a directory"]),
], ids=["absent", "same", "same-explicit", "metadata", "file-in-way", "link-in-way", "delete", "delete-absent",
        "delete-file"])
def test_diff(kwargs, state, summaries) -> None:
    assert [c.summary for c in Directory(D, **kwargs).diff(state)] == summaries


@pytest.mark.parametrize("kwargs, present, absent", [
    ({"mode": "0750", "owner": "app"}, ["mkdir -p -m 0750 -- /srv/app/shared", "chown -- app /srv/app/shared",
                                        "then chmod -- 0750 /srv/app/shared"], ["parent directory"]),
    ({"recursive": False}, ["mkdir -- /srv/app/shared", "parent directory /srv/app does not exist"], ["-p"]),
    ({"action": "delete"}, ["rm -rf -- /srv/app/shared", "@@unchanged"], ["rmdir"]),
    ({"action": "delete", "recursive": False}, ["rmdir -- /srv/app/shared"], ["rm -rf"]),
], ids=["create", "not-recursive", "delete", "delete-not-recursive"])
def test_apply(kwargs, present, absent) -> None:
    resource = Directory(D, **kwargs)
    script = resource.apply(HERE, resource.diff(HERE)).script
    for text in present:
        assert text in script
    for text in absent:
        assert text not in script
