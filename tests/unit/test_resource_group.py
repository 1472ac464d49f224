"""``group``: validation, getent parsing, exact membership diffs and steps (no host)."""

from __future__ import annotations

import pytest

from runner.resources.api import ResourceError
from runner.resources.builtin.group import Group, GroupState


@pytest.mark.parametrize("name, kwargs, message", [
    ("bad group", {}, "the group name must be"),
    ("100", {}, "cannot be all digits"),
    ("web", {"gid": "100"}, "gid must be a non-negative integer"),
    ("web", {"members": "alice"}, "members must be a list of user names"),
    ("web", {"members": ["a,b"]}, "a member must be a user/group name"),
    ("web", {"members": [1000]}, "member 1000 must be a user name"),
    ("web", {"append": True}, "unknown argument 'append'"),
])
def test_rejects(name, kwargs, message) -> None:
    with pytest.raises(ResourceError, match=message):
        Group(name, **kwargs)


@pytest.mark.parametrize("output, state", [
    ("", GroupState()),
    ("group=\n", GroupState()),
    ("group=web:x:1500:\n", GroupState(True, 1500, ())),
    ("group=web:x:1500:alice,bob\n", GroupState(True, 1500, ("alice", "bob"))),
    ("group=webby:x:1500:\n", GroupState()),
    ("group=web:x:bad:\n", GroupState()),
])
def test_parse(output, state) -> None:
    assert Group("web").parse(output) == state


HERE = GroupState(True, 1500, ("alice", "bob"))


@pytest.mark.parametrize("kwargs, state, summaries", [
    ({}, GroupState(), ["create"]),
    ({"members": ["alice"]}, GroupState(), ["create with members alice"]),
    ({}, HERE, []),
    ({"members": ["bob", "alice"]}, HERE, []),  # order does not matter
    ({"members": ["alice", "alice", "bob"]}, HERE, []),  # nor duplicates
    ({"members": ["bob"]}, HERE, ["members alice, bob -> bob"]),
    ({"members": []}, HERE, ["members alice, bob -> (none)"]),
    ({"gid": 1600}, HERE, ["gid 1500 -> 1600"]),
    ({"action": "remove"}, HERE, ["remove"]),
    ({"action": "remove"}, GroupState(), []),
])
def test_diff(kwargs, state, summaries) -> None:
    assert [c.summary for c in Group("web", **kwargs).diff(state)] == summaries


@pytest.mark.parametrize("kwargs, present, absent", [
    ({}, ["groupadd web", "then :"], ["gpasswd"]),
    ({"gid": 1600, "members": ["alice", "bob"]},
     ["groupadd -g 1600 web", "groupmod -g 1600 web", "gpasswd -M alice,bob web"], []),
    ({"members": []}, ["gpasswd -M '' web"], []),
    ({"action": "remove"}, ["groupdel web", "@@unchanged"], ["groupadd"]),
], ids=["plain", "gid-members", "no-members", "remove"])
def test_apply(kwargs, present, absent) -> None:
    script = Group("web", **kwargs).apply(HERE, []).script
    for text in present:
        assert text in script
    for text in absent:
        assert text not in script
