"""Updating cookbook checkouts: OpsWorks' update_custom_cookbooks, on the laptop.

Cookbooks are read from the stack's cookbook paths on every run, so there is
nothing to copy to hosts. What can be out of date is the checkout they live
in: each cookbook path inside a git work tree is updated with
``git pull --ff-only`` (never a merge, never a rewrite of local work); a path
outside git is reported as such.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_TIMEOUT = 300.0


def _git(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT)


def update_path(path: Path) -> tuple[str, str]:
    """(result, detail) for one cookbook path: updated, up to date, not git, failed or missing."""
    if not path.is_dir():
        return "missing", "no such directory"
    try:
        top = _git(path, "rev-parse", "--show-toplevel")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "failed", f"git: {exc}"
    if top.returncode != 0:
        return "not git", "read as it is on every run"
    before = _git(path, "rev-parse", "--short", "HEAD").stdout.strip()
    pulled = _git(path, "pull", "--ff-only")
    if pulled.returncode != 0:
        detail = (pulled.stderr.strip() or pulled.stdout.strip()).splitlines()
        return "failed", detail[-1] if detail else f"git pull exited {pulled.returncode}"
    after = _git(path, "rev-parse", "--short", "HEAD").stdout.strip()
    return ("updated", f"{before} -> {after}") if before != after else ("up to date", after)
