"""``user``: a local account (``useradd`` / ``usermod`` / ``userdel``).

Only the properties given are managed. A new account gets its home
directory made (``useradd -m``) unless it is a system account without a
``home``; changing ``home`` later does not move the old one. ``remove``
keeps the home directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from runner.resources.api import Change, Resource, ResourceError, Step
from runner.resources.builtin.shell import UNCHANGED, check_account, check_path, parse_kv, q


@dataclass(frozen=True)
class UserState:
    exists: bool = False
    uid: int | None = None
    gid: int | None = None
    comment: str | None = None
    home: str | None = None
    shell: str | None = None
    group_gid: int | None = None  # the gid of the group named by ``gid=`` when it is a name


def _id(value: Any, where: str, label: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ResourceError(f"{where}: {label} must be a non-negative integer, got {value!r}")
    return value


class User(Resource):
    probe_isolated = False  # its probe neither exits nor changes directory
    type_name = "user"
    actions = ("create", "remove")
    default_action = "create"
    properties: ClassVar[dict[str, Any]] = {"uid": None, "gid": None, "home": None, "shell": None,
                                            "system": False, "comment": None}

    def validate(self) -> None:
        check_account(self.name, self.key, "the user name")
        if self.name.isdigit():
            raise ResourceError(f"{self.key}: a user name cannot be all digits")
        self.uid = _id(self.args["uid"], self.key, "uid")
        gid = self.args["gid"]
        self.gid = None if gid is None else check_account(gid, self.key, "gid")
        self.home = None if self.args["home"] is None else check_path(self.args["home"], self.key, "home")
        self.shell = None if self.args["shell"] is None else check_path(self.args["shell"], self.key, "shell")
        comment = self.args["comment"]
        if comment is not None and (not isinstance(comment, str) or any(c in comment for c in ":\n\0")):
            raise ResourceError(f"{self.key}: comment must be a string without ':' or newlines")
        self.comment = comment
        if not isinstance(self.args["system"], bool):
            raise ResourceError(f"{self.key}: system must be True or False")
        self.system = self.args["system"]
        if len(self.action) != 1:
            raise ResourceError(f"{self.key}: give one action, create or remove")

    def probe(self) -> str:
        lines = [f"printf 'passwd=%s\\n' \"$(getent passwd {q(self.name)})\""]
        if isinstance(self.gid, str):
            lines.append(f"printf 'group=%s\\n' \"$(getent group {q(self.gid)})\"")
        return "\n".join(lines)

    def parse(self, output: str) -> UserState:
        kv = parse_kv(output)
        fields = kv.get("passwd", "").split(":")
        group = kv.get("group", "").split(":")
        group_gid = int(group[2]) if len(group) >= 3 and group[2].isdigit() else None
        if len(fields) < 7 or fields[0] != self.name or not fields[2].isdigit() or not fields[3].isdigit():
            return UserState(group_gid=group_gid)
        return UserState(True, int(fields[2]), int(fields[3]), fields[4], fields[5], fields[6], group_gid)

    def diff(self, state: UserState) -> list[Change]:
        if "remove" in self.action:
            return [Change("remove")] if state.exists else []
        if not state.exists:
            return [Change("create")]
        changes = []
        if self.uid is not None and self.uid != state.uid:
            changes.append(Change(f"uid {state.uid} -> {self.uid}"))
        if self.gid is not None:
            want = self.gid if isinstance(self.gid, int) else (
                int(self.gid) if self.gid.isdigit() else state.group_gid)
            if want != state.gid:
                changes.append(Change(f"gid {state.gid} -> {self.gid}"))
        for label, want, have in (("home", self.home, state.home), ("shell", self.shell, state.shell),
                                  ("comment", self.comment, state.comment)):
            if want is not None and want != have:
                changes.append(Change(f"{label} {have!r} -> {want!r}"))
        return changes

    def _options(self) -> list[str]:
        opts = []
        for flag_, value in (("-u", self.uid), ("-g", self.gid), ("-d", self.home), ("-s", self.shell),
                             ("-c", self.comment)):
            if value is not None:
                opts += [flag_, q(value)]
        return opts

    def apply(self, state: UserState, changes: list[Change]) -> Step:
        name = q(self.name)
        if "remove" in self.action:
            return Step(f"if getent passwd {name} >/dev/null; then userdel {name} || exit 1; else {UNCHANGED}; fi")
        create = ["useradd", *self._options()]
        if self.system:
            create.append("-r")
        if self.home is not None or not self.system:
            create.append("-m")
        modify = " ".join(["usermod", *self._options(), name]) if self._options() else UNCHANGED
        return Step(
            f"if getent passwd {name} >/dev/null; then {modify} || exit 1\n"
            f"else {' '.join(create)} {name} || exit 1\n"
            "fi"
        )
