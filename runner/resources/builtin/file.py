"""``file``: a regular file, its content and its owner, group and mode.

The content is given inline (``content=``) or read from the cookbook's
``files/`` (``source=``); with neither, only existence and metadata are
managed (like ``touch``). The probe sends a checksum, not the file; only a
small text file (<= 64 KiB, no NUL byte) comes along, base64-encoded, so a
plan can show a unified diff. A sensitive file never comes along.

A symlink (or a fifo ...) in the way is replaced when the content is
managed (with ``no_symlink=True``, as runner's own files under /srv and
/var/lib/runner are declared, a symlink there fails the resource instead);
a directory in the way, or a missing parent directory, fails the resource
(like Chef: create the parent with ``directory`` first).

A large ``source=`` file (over :data:`~runner.resources.payload.READ_LIMIT`) is
never read into memory: its checksum is taken in chunks and it is streamed from
disk to each host as a :class:`~runner.resources.payload.FilePayload`; the host
checks its checksum before installing it, and a plan shows no diff for it.
"""

from __future__ import annotations

import base64
import binascii
import difflib
from dataclasses import dataclass
from typing import Any, ClassVar

from runner.resources.api import Change, CompileContext, Resource, ResourceError, Step
from runner.resources.builtin.pathprobe import SENSITIVE_MARKS, PathProbed, sensitive_mark
from runner.resources.builtin.shell import (
    UNCHANGED,
    check_account,
    check_path,
    chown_chmod,
    fail,
    inline_text,
    install_payload,
    normalise_mode,
    parse_kv,
    q,
    require_parent,
    stat_mode,
)
from runner.resources.payload import FilePayload, Payload, payload_sha256

DIFF_LIMIT = 64 * 1024  # the largest old content the probe sends for a diff
IS_A_SYMLINK = "is a symlink: refusing to write through it"


@dataclass(frozen=True)
class FileState:
    """What the probe found at the path. ``content`` is only known for small text files."""

    type: str = "absent"  # absent | file | directory | link | other
    sha256: str | None = None
    mode: str | None = None
    owner: str | None = None
    uid: int | None = None
    group: str | None = None
    gid: int | None = None
    content: bytes | None = None
    was_sensitive: bool = False  # last written by a sensitive resource: its old content was not sent


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def owner_differs(want: str | int | None, name: str | None, number: int | None) -> bool:
    """Whether a desired owner/group (a name or a numeric id) differs from the probed one."""
    if want is None:
        return False
    if isinstance(want, int) or want.isdigit():
        return number != int(want)
    return name != want


def metadata_changes(mode: str | None, owner: str | int | None, group: str | int | None, state: Any) -> list[Change]:
    """Mode, owner and group changes between what is declared and a probed file or directory."""
    changes = []
    if mode is not None and mode != state.mode:
        changes.append(Change(f"mode {state.mode} -> {mode}"))
    if owner_differs(owner, state.owner, state.uid):
        changes.append(Change(f"owner {state.owner} -> {owner}"))
    if owner_differs(group, state.group, state.gid):
        changes.append(Change(f"group {state.group} -> {group}"))
    return changes


def unified_diff(path: str, old: bytes | None, new: bytes) -> str | None:
    """A unified diff of two texts, or None when either is not UTF-8 text."""
    try:
        old_text = "" if old is None else old.decode("utf-8")
        new_text = new.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = difflib.unified_diff(old_text.splitlines(keepends=True), new_text.splitlines(keepends=True),
                                 fromfile="/dev/null" if old is None else path, tofile=path)
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


class File(PathProbed, Resource):
    probe_kind: ClassVar[str] = "file"
    probe_isolated = False  # its probe neither exits nor changes directory
    type_name = "file"
    actions = ("create", "delete")
    default_action = "create"
    properties: ClassVar[dict[str, Any]] = {"content": None, "source": None, "owner": None, "group": None,
                                            "mode": None, "no_symlink": False}

    #: the desired content (a large source file: streamed from disk); None = not managed (or not read
    #: yet: see :meth:`prepare`)
    content: Payload | None

    # -- declaration ---------------------------------------------------------

    def validate(self) -> None:
        self.path = check_path(self.name, self.key)
        self.owner = None if self.args["owner"] is None else check_account(self.args["owner"], self.key, "owner")
        self.group = None if self.args["group"] is None else check_account(self.args["group"], self.key, "group")
        self.mode = normalise_mode(self.args["mode"], self.key)
        self.no_symlink = self.args.get("no_symlink", False)  # a subclass (template) may not declare it
        if not isinstance(self.no_symlink, bool):
            raise ResourceError(f"{self.key}: no_symlink must be True or False")
        self.validate_content()

    def validate_content(self) -> None:
        content, source = self.args["content"], self.args["source"]
        if content is not None and source is not None:
            raise ResourceError(f"{self.key}: give content or source, not both")
        if content is not None and not isinstance(content, (str, bytes)):
            raise ResourceError(f"{self.key}: content must be a string or bytes, got {type(content).__name__}")
        if source is not None and (not isinstance(source, str) or not source):
            raise ResourceError(f"{self.key}: source must be a file name under the cookbook's files/")
        self.manages_content = content is not None or source is not None
        self.content = content.encode("utf-8") if isinstance(content, str) else content

    def prepare(self, ctx: CompileContext) -> None:
        if self.args.get("source") is not None and self.content is None:
            self.content = ctx.payload_of(self.args["source"])

    def _desired(self) -> Payload:
        if self.content is None:
            raise RuntimeError(f"{self.key}: content is not known yet: prepare() was not called")
        return self.content

    # -- probe -----------------------------------------------------------------

    def probe(self) -> str:
        """Type, metadata and checksum; the old content only when it differs and may be shown.

        The desired checksum is known here, so an unchanged file costs one stat
        and one sha256sum on the host and sends back a few short lines.
        """
        checksum = ""
        if self.manages_content:
            checksum = '  s=$(sha256sum <"$p"); s=${s%% *}; printf \'sha256=%s\\n\' "$s"\n'
            if not self.sensitive:
                want = self._desired_sha() if self.content is not None else ""  # unknown: always send it
                checksum += (
                    f"  if [ -e {q(sensitive_mark(self.path))} ]; then echo was_sensitive=1\n"
                    f"  elif [ \"$s\" != {q(want)} ] && [ \"$size\" -le {DIFF_LIMIT} ] &&"
                    " [ \"$(tr -d '\\000' <\"$p\" | wc -c)\" -eq \"$size\" ]; then\n"
                    "    printf 'content='; base64 -w0 <\"$p\"; printf '\\n'\n"
                    "  fi\n"
                )
        return (
            f"p={q(self.path)}\n"
            "if [ -L \"$p\" ]; then echo type=link\n"
            "elif [ -d \"$p\" ]; then echo type=directory\n"
            "elif [ -f \"$p\" ]; then\n"
            "  echo type=file\n"
            "  st=$(stat --printf 'mode=%a\\nowner=%U\\nuid=%u\\ngroup=%G\\ngid=%g\\nsize=%s' -- \"$p\")\n"
            "  printf '%s\\n' \"$st\"; size=${st##*size=}\n"
            f"{checksum}"
            "elif [ -e \"$p\" ]; then echo type=other\n"
            "else echo type=absent\n"
            "fi\n"
        )

    def parse(self, output: str) -> FileState:
        kv = parse_kv(output)
        content = None
        if "content" in kv:
            try:
                content = base64.b64decode(kv["content"], validate=True)
            except (binascii.Error, ValueError):
                content = None
        kind = kv.get("type", "absent")
        return FileState(
            type=kind if kind in ("absent", "file", "directory", "link", "other") else "absent",
            sha256=kv.get("sha256") or None,
            mode=stat_mode(kv.get("mode", "")),
            owner=kv.get("owner") or None,
            uid=_int(kv.get("uid")),
            group=kv.get("group") or None,
            gid=_int(kv.get("gid")),
            content=content,
            was_sensitive=kv.get("was_sensitive") == "1",
        )

    # -- diff --------------------------------------------------------------------

    def diff(self, state: FileState) -> list[Change]:
        if "delete" in self.action:
            if state.type == "absent":
                return []
            return [Change("delete" if state.type != "directory" else f"delete: {self.path} is a directory")]
        if state.type == "directory":
            return [Change(f"create: {self.path} is a directory")]
        if state.type != "file":
            changes = [self._content_change(None, created=True)] if state.type == "absent" else [
                Change(f"replace {'symlink' if state.type == 'link' else 'special file'} with a file")]
            return changes
        changes = []
        if self.manages_content and self._desired_sha() != state.sha256:
            changes.append(self._content_change(state.content, created=False, was_sensitive=state.was_sensitive))
        return changes + metadata_changes(self.mode, self.owner, self.group, state)

    def _mark_steps(self) -> tuple[str, str]:
        """Shell lines before and after a rewrite: a sensitive content marks the path first (so a failed
        write errs on the hidden side); any other unmarks it once written. Marking is best effort."""
        mark = q(sensitive_mark(self.path))
        if self.sensitive:
            return f"{{ install -d -m 0700 {SENSITIVE_MARKS} && : >{mark}; }} 2>/dev/null || :", ""
        return "", f"if [ -e {mark} ]; then rm -f -- {mark} 2>/dev/null || :; fi"  # no rm process when unmarked

    def _desired_sha(self) -> str:
        return payload_sha256(self._desired())

    def _content_change(self, old: bytes | None, created: bool, was_sensitive: bool = False) -> Change:
        summary = "create" if created else "update content"
        if not self.manages_content:
            return Change(summary)
        if self.sensitive:
            return Change(summary if created else "content changed (sensitive)")
        if not created and was_sensitive:
            return Change("content changed (was sensitive)")
        if not created and old is None:  # too big or binary: the probe did not send it
            return Change(summary)
        desired = self._desired()
        if isinstance(desired, FilePayload):  # too big to show (and to read into memory)
            return Change(summary)
        return Change(summary, unified_diff(self.path, old, desired))

    # -- apply -------------------------------------------------------------------

    def apply(self, state: FileState, changes: list[Change]) -> Step:
        p = q(self.path)
        if "delete" in self.action:
            return Step(
                f"if [ -d {p} ] && [ ! -L {p} ]; then "
                f"{fail(f'{self.key}: {self.path} is a directory; delete it with a directory resource')}; fi\n"
                f"if [ -e {p} ] || [ -L {p} ]; then rm -f -- {p} || exit 1; else {UNCHANGED}; fi"
            )
        lines = [
            require_parent(self.path, self.key),
            f"if [ -d {p} ] && [ ! -L {p} ]; then {fail(f'{self.key}: {self.path} is a directory')}; fi",
        ]
        if self.no_symlink:
            lines.append(f"if [ -L {p} ]; then {fail(f'{self.key}: {self.path} {IS_A_SYMLINK}')}; fi")
        rewrite = self.manages_content and (state.type != "file" or self._desired_sha() != state.sha256)
        if rewrite:
            content = self._desired()
            # a sensitive one stays out of -v scripts; a streamed one is never inline
            text = None if self.sensitive or isinstance(content, FilePayload) else inline_text(content)
            mark, unmark = self._mark_steps()
            if text is not None:
                write = install_payload(None, self.path, self.owner, self.group, self.mode, inline=text)
                lines += [mark, write, unmark]
                return Step("\n".join(line for line in lines if line))
            if isinstance(content, FilePayload):  # read from disk as it was sent: it may have changed since
                lines.append(f's=$(sha256sum <"$P0"); [ "${{s%% *}}" = {q(content.sha256())} ] || '
                             f"{fail(f'{self.key}: source {content.path.name} changed while it was sent; run again')}")
            lines += [mark, install_payload('"$P0"', self.path, self.owner, self.group, self.mode,
                                            private=self.sensitive), unmark]
            return Step("\n".join(line for line in lines if line), (content,))
        if not self.manages_content:
            lines.append(f"if [ -L {p} ] || {{ [ -e {p} ] && [ ! -f {p} ]; }}; then "
                         f"{fail(f'{self.key}: {self.path} exists and is not a regular file')}; fi")
            lines.append(f"[ -e {p} ] || : >{p} || exit 1")
        lines += [f"{cmd} || exit 1" for cmd in chown_chmod(p, self.owner, self.group, self.mode)]
        return Step("\n".join(lines))
