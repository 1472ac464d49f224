"""``directory``: a directory and its owner, group and mode.

``recursive=True`` creates missing parents (``mkdir -p``; owner and mode go
to the last directory only, as in Chef) and lets ``delete`` remove a
non-empty directory; with ``recursive=False`` a missing parent fails and
``delete`` only removes an empty directory (``rmdir``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from runner.resources.api import Ahead, Change, Resource, ResourceError, Step
from runner.resources.builtin.file import IS_A_SYMLINK, _int, metadata_changes
from runner.resources.builtin.pathprobe import PathProbed
from runner.resources.builtin.shell import (
    UNCHANGED,
    check_account,
    check_path,
    chown_chmod,
    fail,
    normalise_mode,
    parent_of,
    parse_kv,
    q,
    require_parent,
    stat_mode,
)

#: directories one mkdir makes at most (its command line stays far below the kernel's limit)
AHEAD_LIMIT = 200

#: paths a delete refuses, whatever the recipe says
PROTECTED = frozenset({"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/proc", "/root", "/run", "/sbin",
                       "/srv", "/sys", "/tmp", "/usr", "/var"})


@dataclass(frozen=True)
class DirectoryState:
    type: str = "absent"  # absent | directory | link | other
    mode: str | None = None
    owner: str | None = None
    uid: int | None = None
    group: str | None = None
    gid: int | None = None


class Directory(PathProbed, Resource):
    probe_kind: ClassVar[str] = "directory"
    probe_isolated = False  # its probe neither exits nor changes directory
    ahead = True  # directories to create, one after another, are made by one mkdir (apply_ahead)
    type_name = "directory"
    actions = ("create", "delete")
    default_action = "create"
    properties: ClassVar[dict[str, Any]] = {"owner": None, "group": None, "mode": None, "recursive": True}

    def validate(self) -> None:
        self.path = check_path(self.name, self.key)
        self.owner = None if self.args["owner"] is None else check_account(self.args["owner"], self.key, "owner")
        self.group = None if self.args["group"] is None else check_account(self.args["group"], self.key, "group")
        self.mode = normalise_mode(self.args["mode"], self.key)
        if not isinstance(self.args["recursive"], bool):
            raise ResourceError(f"{self.key}: recursive must be True or False")
        self.recursive = self.args["recursive"]
        if "delete" in self.action and (self.path.rstrip("/") or "/") in PROTECTED:
            raise ResourceError(f"{self.key}: refusing to delete {self.path}")

    def probe(self) -> str:
        return (
            f"p={q(self.path)}\n"
            "if [ -L \"$p\" ]; then echo type=link\n"
            "elif [ -d \"$p\" ]; then\n"
            "  echo type=directory\n"
            "  stat --printf 'mode=%a\\nowner=%U\\nuid=%u\\ngroup=%G\\ngid=%g\\n' -- \"$p\"\n"
            "elif [ -e \"$p\" ]; then echo type=other\n"
            "else echo type=absent\n"
            "fi\n"
        )

    def parse(self, output: str) -> DirectoryState:
        kv = parse_kv(output)
        kind = kv.get("type", "absent")
        return DirectoryState(
            type=kind if kind in ("absent", "directory", "link", "other") else "absent",
            mode=stat_mode(kv.get("mode", "")),
            owner=kv.get("owner") or None,
            uid=_int(kv.get("uid")),
            group=kv.get("group") or None,
            gid=_int(kv.get("gid")),
        )

    def diff(self, state: DirectoryState) -> list[Change]:
        if "delete" in self.action:
            if state.type == "absent":
                return []
            return [Change("delete" if state.type == "directory" else f"delete: {self.path} is not a directory")]
        if state.type == "absent":
            return [Change("create")]
        if state.type != "directory":
            return [Change(f"create: {self.path} exists and is not a directory")]
        return metadata_changes(self.mode, self.owner, self.group, state)

    def apply(self, state: DirectoryState, changes: list[Change]) -> Step:
        p = q(self.path)
        if "delete" in self.action:
            remove = f"rm -rf -- {p}" if self.recursive else f"rmdir -- {p}"
            return Step(
                f"if [ -L {p} ] || {{ [ -e {p} ] && [ ! -d {p} ]; }}; then "
                f"{fail(f'{self.key}: {self.path} is not a directory')}; fi\n"
                f"if [ -d {p} ]; then {remove} || exit 1; else {UNCHANGED}; fi"
            )
        lines = []
        if not self.recursive:
            lines.append(require_parent(self.path, self.key))
        lines.append(f"if [ -L {p} ]; then {fail(f'{self.key}: {self.path} {IS_A_SYMLINK}')}; fi")
        lines.append(f"if [ -e {p} ] && [ ! -d {p} ]; then "
                     f"{fail(f'{self.key}: {self.path} exists and is not a directory')}; fi")
        mkdir = f"mkdir {'-p ' if self.recursive else ''}"
        if self.mode is not None:  # a new directory gets its mode from mkdir: one process, not two
            lines.append(f"if [ -d {p} ]; then chmod -- {q(self.mode)} {p}; else {mkdir}-m {q(self.mode)} -- {p}; fi"
                         " || exit 1")
        else:
            lines.append(f"[ -d {p} ] || {mkdir}-- {p} || exit 1")
        lines += [f"{cmd} || exit 1" for cmd in chown_chmod(p, self.owner, self.group, None)]
        return Step("\n".join(lines))

    def _ahead_key(self, state: DirectoryState) -> tuple[Any, ...] | None:
        """What directories made by one ``mkdir`` (and ``chown``) must share; None: not one to make."""
        if self.action != ("create",) or state.type != "absent":
            return None
        return self.mode, self.owner, self.group, self.recursive

    @classmethod
    def apply_ahead(cls, items: Sequence[tuple[Resource, Any, list[Change]]]) -> list[Ahead]:
        """One ``mkdir`` (and one ``chown``) for consecutive directories the probe found absent.

        Members share mode, owner, group and ``recursive``, and each one's
        parent is the first one's parent or an earlier member, so the only
        parents ``mkdir -p`` makes are those the first member's own step
        would make. On failure the members are removed again (``rmdir``, last
        first: they were absent, so they are empty) and each member's step
        runs on its own, which reports the error at the right resource.
        """
        groups: list[list[int]] = []  # positions in items
        key_of_group: Any = None
        parents: set[str] = set()  # where the last group's members may be: its first's parent, its members
        for k, (resource, state, _changes) in enumerate(items):
            key = resource._ahead_key(state) if isinstance(resource, Directory) else None
            if key is None:
                continue
            path = posixpath.normpath(resource.path)
            parent = posixpath.normpath(parent_of(resource.path))
            if (groups and key == key_of_group and groups[-1][-1] == k - 1 and parent in parents
                    and len(groups[-1]) < AHEAD_LIMIT):
                groups[-1].append(k)
            else:
                groups.append([k])
                key_of_group, parents = key, {parent}
            parents.add(path)
        out = []
        for group in groups:
            if len(group) < 2:
                continue
            members = [cast(Directory, items[k][0]) for k in group]  # only directories have a key
            lead, paths = members[0], " ".join(q(m.path) for m in members)
            mode = f"-m {q(lead.mode)} " if lead.mode is not None else ""
            commands = [f"mkdir {'-p ' if lead.recursive else ''}{mode}-- {paths}",
                        *chown_chmod(paths, lead.owner, lead.group, None)]
            undo = " ".join(q(m.path) for m in reversed(members))
            script = " && ".join(commands) + f" || {{ rmdir -- {undo} 2>/dev/null; exit 1; }}"
            done = tuple(f"[ -d {q(m.path)} ] && [ ! -L {q(m.path)} ]" for m in members)
            out.append(Ahead(tuple(group), script, done))
        return out
