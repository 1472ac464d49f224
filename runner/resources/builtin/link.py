"""``link``: a symbolic link at ``path`` pointing to ``to``.

Made atomically: a new link under a temporary name in the same directory,
renamed over the path (``mv -T``), so the path never goes missing, not even
while an old link is being replaced (the way ``current`` of a deploy is
switched). A regular file in the way is replaced; a directory in the way
fails the resource. ``delete`` removes a symlink and fails on anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from runner.resources.api import Change, Resource, ResourceError, Step
from runner.resources.builtin.shell import UNCHANGED, check_path, fail, parse_kv, q, require_parent


@dataclass(frozen=True)
class LinkState:
    type: str = "absent"  # absent | link | file | directory | other
    to: str | None = None


class Link(Resource):
    probe_isolated = False  # its probe neither exits nor changes directory
    type_name = "link"
    actions = ("create", "delete")
    default_action = "create"
    properties: ClassVar[dict[str, Any]] = {"to": None}

    def validate(self) -> None:
        self.path = check_path(self.name, self.key)
        if self.path.rstrip("/") != self.path:
            raise ResourceError(f"{self.key}: a link path must not end with '/'")
        to = self.args["to"]
        if "create" in self.action and (not isinstance(to, str) or not to):
            raise ResourceError(f"{self.key}: to (the link's target) is required")
        if to is not None and (not isinstance(to, str) or "\0" in to or "\n" in to):
            raise ResourceError(f"{self.key}: to must be a path without NUL or newline, got {to!r}")
        self.to = to

    def probe(self) -> str:
        return (
            f"p={q(self.path)}\n"
            "if [ -L \"$p\" ]; then echo type=link; printf 'to=%s\\n' \"$(readlink -- \"$p\")\"\n"
            "elif [ -d \"$p\" ]; then echo type=directory\n"
            "elif [ -f \"$p\" ]; then echo type=file\n"
            "elif [ -e \"$p\" ]; then echo type=other\n"
            "else echo type=absent\n"
            "fi\n"
        )

    def parse(self, output: str) -> LinkState:
        kv = parse_kv(output)
        kind = kv.get("type", "absent")
        kind = kind if kind in ("absent", "link", "file", "directory", "other") else "absent"
        return LinkState(kind, kv.get("to") if kind == "link" else None)

    def diff(self, state: LinkState) -> list[Change]:
        if "delete" in self.action:
            if state.type == "absent":
                return []
            return [Change("delete" if state.type == "link" else f"delete: {self.path} is not a symlink")]
        if state.type == "absent":
            return [Change(f"create -> {self.to}")]
        if state.type == "link":
            return [] if state.to == self.to else [Change(f"to {state.to} -> {self.to}")]
        if state.type == "directory":
            return [Change(f"create: {self.path} is a directory")]
        return [Change(f"replace {'file' if state.type == 'file' else 'special file'} with a link -> {self.to}")]

    def apply(self, state: LinkState, changes: list[Change]) -> Step:
        p = q(self.path)
        if "delete" in self.action:
            return Step(
                f"if [ -L {p} ]; then rm -f -- {p} || exit 1\n"
                f"elif [ -e {p} ]; then {fail(f'{self.key}: {self.path} is not a symlink')}\n"
                f"else {UNCHANGED}; fi"
            )
        to = q(self.to)
        parent = self.path.rsplit("/", 1)[0] or "/"
        return Step("\n".join([
            require_parent(self.path, self.key),
            f"if [ -L {p} ] && [ \"$(readlink -- {p})\" = {to} ]; then {UNCHANGED}; exit 0; fi",
            f"if [ -d {p} ] && [ ! -L {p} ]; then {fail(f'{self.key}: {self.path} is a directory')}; fi",
            f"runner_t=$(mktemp {q(parent.rstrip('/') + '/.runner-')}XXXXXX) || exit 1",
            f"{{ ln -sfn -- {to} \"$runner_t\" && mv -Tf -- \"$runner_t\" {p}; }} || "
            "{ rm -f -- \"$runner_t\"; exit 1; }",
        ]))
