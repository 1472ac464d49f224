"""``user``: validation, getent parsing, diffs and useradd/usermod/userdel steps (no host)."""

from __future__ import annotations

import pytest

from runner.resources.api import ResourceError
from runner.resources.builtin.user import User, UserState

ALICE = "passwd=alice:x:1001:1001:Alice A:/home/alice:/bin/bash\n"


@pytest.mark.parametrize("name, kwargs, message", [
    ("bad name", {}, "the user name must be a user/group name"),
    ("1234", {}, "cannot be all digits"),
    ("alice", {"uid": -1}, "uid must be a non-negative integer"),
    ("alice", {"uid": "1001"}, "uid must be a non-negative integer"),
    ("alice", {"gid": "a b"}, "gid must be a user/group name"),
    ("alice", {"home": "home/alice"}, "home must be an absolute path"),
    ("alice", {"shell": "bash"}, "shell must be an absolute path"),
    ("alice", {"comment": "a:b"}, "comment must be a string without ':'"),
    ("alice", {"system": "yes"}, "system must be True or False"),
    ("alice", {"action": ["create", "remove"]}, "give one action"),
    ("alice", {"password": "x"}, "unknown argument 'password'"),
])
def test_rejects(name, kwargs, message) -> None:
    with pytest.raises(ResourceError, match=message):
        User(name, **kwargs)


@pytest.mark.parametrize("kwargs, output, state", [
    ({}, "passwd=\n", UserState()),
    ({}, "", UserState()),
    ({}, ALICE, UserState(True, 1001, 1001, "Alice A", "/home/alice", "/bin/bash")),
    ({}, "passwd=alicia:x:1:1::/:/bin/sh\n", UserState()),  # another user: not ours
    ({"gid": "staff"}, ALICE + "group=staff:x:50:alice\n",
     UserState(True, 1001, 1001, "Alice A", "/home/alice", "/bin/bash", 50)),
    ({"gid": "staff"}, "passwd=\ngroup=\n", UserState()),
])
def test_parse(kwargs, output, state) -> None:
    assert User("alice", **kwargs).parse(output) == state


HERE = UserState(True, 1001, 1001, "Alice A", "/home/alice", "/bin/bash", 50)


@pytest.mark.parametrize("kwargs, state, summaries", [
    ({}, UserState(), ["create"]),
    ({}, HERE, []),
    ({"uid": 1001, "gid": 1001, "home": "/home/alice", "shell": "/bin/bash", "comment": "Alice A"}, HERE, []),
    ({"uid": 2000, "shell": "/bin/sh"}, HERE, ["uid 1001 -> 2000", "shell '/bin/bash' -> '/bin/sh'"]),
    ({"gid": "staff"}, HERE, ["gid 1001 -> staff"]),
    ({"gid": "1001"}, HERE, []),
    ({"comment": ""}, HERE, ["comment 'Alice A' -> ''"]),
    ({"action": "remove"}, HERE, ["remove"]),
    ({"action": "remove"}, UserState(), []),
])
def test_diff(kwargs, state, summaries) -> None:
    assert [c.summary for c in User("alice", **kwargs).diff(state)] == summaries


@pytest.mark.parametrize("kwargs, present, absent", [
    ({}, ["useradd -m alice", "then printf '%s\\n' @@unchanged"], ["-r", "usermod"]),
    ({"uid": 2000, "shell": "/bin/sh", "comment": "A b"},
     ["useradd -u 2000 -s /bin/sh -c 'A b' -m alice", "usermod -u 2000 -s /bin/sh -c 'A b' alice"], []),
    ({"system": True}, ["useradd -r alice"], ["-m"]),
    ({"system": True, "home": "/var/lib/svc"}, ["useradd -d /var/lib/svc -r -m alice"], []),
    ({"action": "remove"}, ["userdel alice"], ["-r alice"]),
], ids=["plain", "options", "system", "system-home", "remove"])
def test_apply(kwargs, present, absent) -> None:
    script = User("alice", **kwargs).apply(UserState(), []).script
    for text in present:
        assert text in script
    for text in absent:
        assert text not in script
