"""Shell snippet helpers shared by the built-in resource types.

Every value that ends up in a snippet goes through :func:`q`
(:func:`shlex.quote`); snippets are POSIX ``sh`` (dash on Debian). Probes
print ``key=value`` lines that :func:`parse_kv` reads back.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import shlex
from typing import Any

from runner.resources.api import UNCHANGED as API_UNCHANGED
from runner.resources.api import ResourceError

#: what a step prints when it found nothing to do after all (see runner.resources.api.Step)
UNCHANGED = API_UNCHANGED  # re-exported for the built-in types

_MODE_RE = re.compile(r"^[0-7]{3,4}$")
_ACCOUNT_RE = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$")


def q(value: Any) -> str:
    """Quote one value for the shell."""
    return shlex.quote(str(value))


def fail(message: str) -> str:
    """A compound command that prints ``message`` on stderr and exits 1."""
    return f"{{ printf '%s\\n' {q(message)} >&2; exit 1; }}"


def parse_kv(output: str) -> dict[str, str]:
    """``key=value`` lines into a dict; other lines are ignored, the last value of a key wins."""
    values: dict[str, str] = {}
    for line in output.splitlines():
        key, sep, value = line.partition("=")
        if sep and key and " " not in key:
            values[key] = value
    return values


def flag(values: dict[str, str], key: str) -> bool | None:
    """A ``key=1`` / ``key=0`` line as a bool, None when missing or garbled."""
    return {"1": True, "0": False}.get(values.get(key, ""))


def normalise_mode(value: Any, where: str) -> str | None:
    """A mode as a 4-digit octal string: ``"644"``, ``"0644"`` and ``0o644`` all give ``"0644"``.

    An int is taken as the numeric mode (write ``0o644``, not ``644``);
    a string must be 3 or 4 octal digits (symbolic modes are not supported).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ResourceError(f"{where}: mode must be an octal string like '0644' or an int like 0o644, got {value!r}")
    if isinstance(value, int):
        if not 0 <= value <= 0o7777:
            raise ResourceError(f"{where}: mode {value!r} is out of range (0 to 0o7777)")
        return f"{value:04o}"
    if isinstance(value, str) and _MODE_RE.match(value):
        return f"{int(value, 8):04o}"
    raise ResourceError(f"{where}: mode must be an octal string like '0644' or an int like 0o644, got {value!r}")


def stat_mode(value: str) -> str | None:
    """``stat -c %a`` output (``644``, ``4755``) as a 4-digit octal string, None if garbled."""
    value = value.strip()
    return f"{int(value, 8):04o}" if value and _MODE_RE.match(value.zfill(3)) else None


def check_path(value: Any, where: str, label: str = "path") -> str:
    """An absolute path without NUL bytes (anything else is quoted, so any byte is fine)."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise ResourceError(f"{where}: {label} must be an absolute path, got {value!r}")
    if "\0" in value:
        raise ResourceError(f"{where}: {label} contains a NUL byte")
    return value


def parent_of(path: str) -> str:
    """The directory holding ``path`` (``/a/b/`` -> ``/a``)."""
    stripped = path.rstrip("/") or "/"
    return posixpath.dirname(stripped) or "/"


def check_account(value: Any, where: str, label: str) -> str | int:
    """A user or group: a name (no ':', ',' or spaces, not starting with '-') or a numeric id."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and _ACCOUNT_RE.match(value) and len(value) <= 32:
        return value
    raise ResourceError(f"{where}: {label} must be a user/group name or a numeric id, got {value!r}")


def require_parent(path: str, where: str) -> str:
    """Fail with a clear message when the directory that should hold ``path`` is missing (Chef does)."""
    parent = parent_of(path)
    return f"[ -d {q(parent)} ] || {fail(f'{where}: parent directory {parent} does not exist')}"


def chown_chmod(target: str, owner: Any = None, group: Any = None, mode: str | None = None,
                no_deref: bool = False) -> list[str]:
    """Commands giving ``target`` (already quoted, or a "$var") the owner, group and mode given."""
    h = "-h " if no_deref else ""
    lines = []
    if owner is not None:
        spec = f"{owner}:{group}" if group is not None else str(owner)
        lines.append(f"chown {h}-- {q(spec)} {target}")
    elif group is not None:
        lines.append(f"chgrp {h}-- {q(group)} {target}")
    if mode is not None:
        lines.append(f"chmod -- {q(mode)} {target}")
    return lines


#: Contents up to this size (text without NUL bytes, not sensitive) travel inside the apply
#: script and are written by the shell's printf builtin: no process per file.
INLINE_LIMIT = 64 * 1024


def inline_text(content: bytes) -> str | None:
    """``content`` as text the shell can hold in a quoted string, or None (NUL bytes, not UTF-8, too big)."""
    if len(content) > INLINE_LIMIT or b"\0" in content:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _creation_umask(mode: str | None, private: bool = False) -> str | None:
    """The umask that makes a new file get ``mode`` itself (no chmod), when the mode allows it."""
    if mode is None:
        return "077" if private else "022"  # a new file gets 0600 or 0644
    value = int(mode, 8)
    if value & 0o7111:  # execute or special bits: a plain open() cannot set them
        return None
    return format(0o666 & ~value, "03o")


def install_payload(payload: str | None, path: str, owner: Any = None, group: Any = None,
                    mode: str | None = None, inline: str | None = None, private: bool = False) -> str:
    """Atomically put new content at ``path``: the payload file ``payload`` (e.g. ``"$P0"``),
    or ``inline`` text written by printf (a shell builtin: no process).

    The content goes to a temporary file in the same directory, gets its
    metadata there and is renamed over the target, so a run killed half-way
    leaves either the old file or the new one, never a truncated one. The
    temporary name is fixed per run and target and created with noclobber
    (O_EXCL), so a file or symlink planted there makes the write fail rather
    than follow it; a leftover of an earlier run is removed and the create
    retried. ``mv -T`` replaces a symlink at the path itself, never moving the
    file into a directory the link points at. When no owner/group/mode is given, an existing regular file keeps
    its own (a new file gets 0644, owned by the running user; 0600 when ``private``, as a file holding
    a secret does: readable by no one else from the moment it exists).
    """
    if (payload is None) == (inline is None):
        raise ValueError("give a payload file or inline text")
    tag = hashlib.sha256(path.encode()).hexdigest()[:12]
    umask = _creation_umask(mode, private)
    # inline text is held once, in a variable: the create below may write it twice
    write = (f"cat -- {payload}" if payload is not None else "printf '%s' \"$runner_c\"") + ' >"$runner_t"'
    # noclobber for both tries; a failed redirection of a regular builtin or a command only fails that command
    create = f"{{ set -C; {{ {write}; }} 2>/dev/null || {{ rm -f -- \"$runner_t\" && {write}; }}; }}"
    keep = []  # what is not declared is kept from an existing regular file
    if mode is None:
        keep.append("chmod -- \"$(stat -c %a -- \"$runner_p\")\" \"$runner_t\"")
    if owner is None or group is None:
        keep.append("chown -- \"$(stat -c %u:%g -- \"$runner_p\")\" \"$runner_t\"")
    commands = [create]
    if keep:
        commands.append("if [ -f \"$runner_p\" ] && [ ! -L \"$runner_p\" ]; then " + " && ".join(keep) + "; fi")
    commands += ["set +C", *chown_chmod('"$runner_t"', owner, group, mode if umask is None else None),
                 "mv -Tf -- \"$runner_t\" \"$runner_p\""]
    return "\n".join([
        *([f"runner_c={q(inline)}"] if inline is not None else []),
        f"runner_p={q(path)}",
        f"runner_t={q(parent_of(path) + '/.runner-')}\"$$\"-{tag}",
        *([f"umask {umask}"] if umask is not None else []),
        "{ " + " &&\n  ".join(commands) + "; } || { rm -f -- \"$runner_t\"; exit 1; }",
    ])
