"""``line_in_file``: one exact line present in (or absent from) a text file.

::

    line_in_file("/etc/environment", line="HTTP_PROXY=http://proxy:3128")
    line_in_file("no old db", path="/etc/hosts", line="10.0.0.9 old-db", action="absent")

The name is the file's path, unless ``path`` gives it (then the name is only
a label, so several lines of one file get keys of their own for reports and
notifications: ``line_in_file[no old db]``). ``present`` appends the line when no line of
the file equals it (creating the file when missing; its directory must
exist); ``absent`` removes every line equal to it, keeping the file's owner
and mode. Every value goes into the shell through :func:`shlex.quote`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, ClassVar

from runner.resources.api import UNCHANGED, Change, Resource, ResourceError, Step


@dataclass(frozen=True)
class LineState:
    exists: bool = False
    present: bool = False


class LineInFile(Resource):
    type_name = "line_in_file"
    actions = ("present", "absent")
    default_action = "present"
    properties: ClassVar[dict[str, Any]] = {"line": None, "path": None}

    def validate(self) -> None:
        path = self.args["path"] or self.name
        if not isinstance(path, str) or not path.startswith("/") or "\n" in path or "\0" in path:
            raise ResourceError(f"{self.key}: the path must be an absolute path, got {path!r}")
        self.path = path
        line = self.args["line"]
        if not isinstance(line, str) or not line or "\n" in line or "\0" in line:
            raise ResourceError(f"{self.key}: line must be a non-empty string without newlines")
        if len(self.action) != 1:
            raise ResourceError(f"{self.key}: give one action, present or absent")
        self.line = line

    def _vars(self) -> str:
        return f"f={shlex.quote(self.path)}; l={shlex.quote(self.line)}"

    def probe(self) -> str:
        return (f"{self._vars()}\n"
                'if [ -f "$f" ]; then echo exists=1; else echo exists=0; fi\n'
                'if grep -qxF -e "$l" "$f" 2>/dev/null; then echo present=1; else echo present=0; fi')

    def parse(self, output: str) -> LineState:
        values = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
        return LineState(exists=values.get("exists") == "1", present=values.get("present") == "1")

    def diff(self, state: LineState) -> list[Change]:
        shown = "a line" if self.sensitive else repr(self.line)
        if self.action == ("present",) and not state.present:
            return [Change(f"add {shown}" + ("" if state.exists else " (new file)"))]
        if self.action == ("absent",) and state.present:
            return [Change(f"remove {shown}")]
        return []

    def apply(self, state: LineState, changes: list[Change]) -> Step:
        if self.action == ("present",):
            script = [
                self._vars(),
                f'if grep -qxF -e "$l" "$f" 2>/dev/null; then {UNCHANGED}; exit 0; fi',
                # a last line without its newline gets one first, so the new line stays a line of its own
                'if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then printf \'\\n\' >> "$f"; fi',
                'printf \'%s\\n\' "$l" >> "$f"',
            ]
        else:
            script = [
                self._vars(),
                f'if ! grep -qxF -e "$l" "$f" 2>/dev/null; then {UNCHANGED}; exit 0; fi',
                'tmp="$f.runner-tmp.$$"',
                '{ grep -vxF -e "$l" "$f" || [ $? -eq 1 ]; } > "$tmp"',
                'cat "$tmp" > "$f"',  # rewrite in place: owner and mode stay
                'rm -f "$tmp"',
            ]
        return Step("\n".join(script))
