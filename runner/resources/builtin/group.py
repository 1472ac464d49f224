"""``group``: a local group and, when ``members`` is given, its exact list of members.

Members are the group's supplementary members (the fourth field of
``/etc/group``), set with ``gpasswd -M``; users whose primary group it is
are not listed there. Each member must exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from runner.resources.api import Change, Resource, ResourceError, Step
from runner.resources.builtin.shell import UNCHANGED, check_account, parse_kv, q


@dataclass(frozen=True)
class GroupState:
    exists: bool = False
    gid: int | None = None
    members: tuple[str, ...] = ()


class Group(Resource):
    probe_isolated = False  # its probe neither exits nor changes directory
    type_name = "group"
    actions = ("create", "remove")
    default_action = "create"
    properties: ClassVar[dict[str, Any]] = {"gid": None, "members": None}

    def validate(self) -> None:
        check_account(self.name, self.key, "the group name")
        if self.name.isdigit():
            raise ResourceError(f"{self.key}: a group name cannot be all digits")
        gid = self.args["gid"]
        if gid is not None and (isinstance(gid, bool) or not isinstance(gid, int) or gid < 0):
            raise ResourceError(f"{self.key}: gid must be a non-negative integer, got {gid!r}")
        self.gid = gid
        members = self.args["members"]
        if members is not None:
            if isinstance(members, str) or not isinstance(members, (list, tuple)):
                raise ResourceError(f"{self.key}: members must be a list of user names")
            for member in members:
                if not isinstance(member, str) or member.isdigit():
                    raise ResourceError(f"{self.key}: member {member!r} must be a user name")
                check_account(member, self.key, "a member")
            members = tuple(dict.fromkeys(members))
        self.members: tuple[str, ...] | None = members
        if len(self.action) != 1:
            raise ResourceError(f"{self.key}: give one action, create or remove")

    def probe(self) -> str:
        return f"printf 'group=%s\\n' \"$(getent group {q(self.name)})\""

    def parse(self, output: str) -> GroupState:
        fields = parse_kv(output).get("group", "").split(":")
        if len(fields) < 4 or fields[0] != self.name or not fields[2].isdigit():
            return GroupState()
        return GroupState(True, int(fields[2]), tuple(m for m in fields[3].split(",") if m))

    def diff(self, state: GroupState) -> list[Change]:
        if "remove" in self.action:
            return [Change("remove")] if state.exists else []
        if not state.exists:
            return [Change("create" + (f" with members {', '.join(self.members)}" if self.members else ""))]
        changes = []
        if self.gid is not None and self.gid != state.gid:
            changes.append(Change(f"gid {state.gid} -> {self.gid}"))
        if self.members is not None and sorted(self.members) != sorted(state.members):
            old = ", ".join(sorted(state.members)) or "(none)"
            new = ", ".join(sorted(self.members)) or "(none)"
            changes.append(Change(f"members {old} -> {new}"))
        return changes

    def apply(self, state: GroupState, changes: list[Change]) -> Step:
        name = q(self.name)
        if "remove" in self.action:
            return Step(f"if getent group {name} >/dev/null; then groupdel {name} || exit 1; else {UNCHANGED}; fi")
        gid = f"-g {q(self.gid)} " if self.gid is not None else ""
        modify = f"groupmod {gid}{name} || exit 1" if gid else ":"
        lines = [
            f"if getent group {name} >/dev/null; then {modify}",
            f"else groupadd {gid}{name} || exit 1",
            "fi",
        ]
        if self.members is not None:
            lines.append(f"gpasswd -M {q(','.join(self.members))} {name} >/dev/null || exit 1")
        return Step("\n".join(lines))
