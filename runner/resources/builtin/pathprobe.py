"""One probe for many paths: files, templates and directories of a host together.

Probed one by one, every file costs a ``stat`` and a ``sha256sum`` process on
the host; a host with fifty of them spends most of a no-op converge starting
processes. Together they cost one ``stat`` and one ``sha256sum`` for all. The
old content of a file (for the diff) is read only when its checksum differs,
which the snippet checks with shell pattern matching, starting no process.

The output is split back into what each resource's own probe would print, so
the types' ``parse`` and ``diff`` stay as they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from runner.resources.api import Resource
from runner.resources.builtin.shell import q
from runner.resources.payload import payload_sha256

DIFF_LIMIT = 64 * 1024
_KINDS = {"regular file": "file", "regular empty file": "file", "directory": "directory",
          "symbolic link": "link"}
#: characters that would break the line-based output of stat and sha256sum
UNSAFE = ("\n", "\t", "\\")
#: one empty file per path last written by a sensitive resource (named by the path's sha256): the old
#: content of such a file may hold a secret the stack no longer knows, so a probe never sends it
SENSITIVE_MARKS = "/var/lib/runner/sensitive"


def sensitive_mark(path: str) -> str:
    """The mark of ``path`` under :data:`SENSITIVE_MARKS`."""
    return f"{SENSITIVE_MARKS}/{hashlib.sha256(path.encode()).hexdigest()}"


def batchable_path(path: str) -> bool:
    return not any(c in path for c in UNSAFE)


def _sum_wanted(resource: Any) -> bool:
    return bool(getattr(resource, "manages_content", False))


def _want(resource: Any) -> str:
    content = getattr(resource, "content", None)
    return payload_sha256(content) if content is not None else ""  # a streamed file is hashed in chunks


def probe_paths(resources: Sequence[Any]) -> str:
    paths = " ".join(q(r.path) for r in resources)
    lines = [f"stat --printf '%n\\t%F\\t%a\\t%U\\t%u\\t%G\\t%g\\t%s\\n' -- {paths}", "echo @@sums"]
    summed = [r for r in resources if _sum_wanted(r)]
    if summed:
        # every line of the sums, newline included, so "<sum>  <path><newline>" matches whole lines only
        lines += ["runner_nl='", "'",
                  f"runner_sums=$(sha256sum -- {' '.join(q(r.path) for r in summed)} 2>/dev/null)",
                  'printf \'%s\\n\' "$runner_sums"', 'runner_sums="$runner_nl$runner_sums$runner_nl"']
    lines.append("echo @@contents")
    for k, r in enumerate(resources):
        if not _sum_wanted(r) or r.sensitive:
            continue
        p = q(r.path)
        lines += [
            f"runner_w=\"$runner_nl\"{q(f'{_want(r)}  {r.path}')}\"$runner_nl\"",
            'case "$runner_sums" in *"$runner_w"*) ;; *)',
            f"  if [ -e {q(sensitive_mark(r.path))} ]; then echo '@@was_sensitive {k}'",
            f"  elif [ -f {p} ] && [ ! -L {p} ]; then",
            f"    runner_n=$(stat -c %s -- {p})",
            f"    if [ \"$runner_n\" -le {DIFF_LIMIT} ] &&",
            f"       [ \"$(tr -d '\\000' <{p} | wc -c)\" -eq \"$runner_n\" ]; then",
            f"      echo '@@content {k}'; base64 -w0 <{p}; echo",
            "    fi",
            "  fi ;;",
            "esac",
        ]
    return "\n".join(lines)


def split_paths(output: str, resources: Sequence[Any]) -> list[str]:
    stats: dict[str, list[str]] = {}
    sums: dict[str, str] = {}
    contents: dict[int, str] = {}
    was_sensitive: set[int] = set()
    section = "stat"
    pending: int | None = None
    for line in output.split("\n"):
        if line in ("@@sums", "@@contents"):
            section = line[2:]
            continue
        if section == "stat":
            fields = line.split("\t")
            if len(fields) == 8:
                stats[fields[0]] = fields[1:]
        elif section == "sums":
            digest, sep, path = line.partition("  ")
            if sep and len(digest) == 64:
                sums[path] = digest
        elif pending is not None:
            contents[pending], pending = line, None
        elif line.startswith("@@content "):
            pending = int(line.split()[1])
        elif line.startswith("@@was_sensitive "):
            was_sensitive.add(int(line.split()[1]))
    out = []
    for k, r in enumerate(resources):
        fields = stats.get(r.path)
        if fields is None:
            out.append("type=absent\n")
            continue
        kind = _KINDS.get(fields[0], "other")
        if r.probe_kind == "directory" and kind == "file":
            kind = "other"  # as the directory type's own probe says of anything else in the way
        text = f"type={kind}\n"
        if kind == r.probe_kind:
            mode, owner, uid, group, gid, size = fields[1:]
            text += f"mode={mode}\nowner={owner}\nuid={uid}\ngroup={group}\ngid={gid}\n"
            if kind == "file":
                text += f"size={size}\n"
                if r.path in sums and _sum_wanted(r):
                    text += f"sha256={sums[r.path]}\n"
                if k in contents:
                    text += f"content={contents[k]}\n"
                if k in was_sensitive:
                    text += "was_sensitive=1\n"
        out.append(text)
    return out


class PathProbed:
    """Mixin for resource types with a ``path``: probed with the host's other paths in one snippet."""

    probe_group = "paths"
    path: str

    def probe_batchable(self) -> bool:
        return batchable_path(self.path)

    @classmethod
    def probe_many(cls, resources: Sequence[Resource]) -> str:
        return probe_paths(resources)

    @classmethod
    def split_many(cls, output: str, resources: Sequence[Resource]) -> list[str]:
        return split_paths(output, resources)
