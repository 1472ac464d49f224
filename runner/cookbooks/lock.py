"""``cookbooks.lock`` beside stack.yml: what was fetched for each cookbook, to be committed and reviewed.

::

    cookbooks:
      haproxy:
        version: 1.2.0
        source: {git: https://example.com/cookbooks.git, ref: main}   # the stack.cookbooks entry as written
        revision: 3f2a...          # git: the commit; archive: its URL or path; s3: VersionId or ETag
        archive_sha256: ...        # archive and s3: the archive file's sha256
        sha256: 9ab...             # the cookbook's file tree (see runner.cookbooks.fetch.tree_sha256)
    sources:                       # every fetched entry, with the cookbooks it gave (first match wins)
    - source: {git: https://example.com/cookbooks.git, ref: main}
      cookbooks: [haproxy]

Written whole with an atomic replace, keys sorted, so a diff shows what moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner.errors import Location, UserError
from runner.statefile import replace_file

LOCK_NAME = "cookbooks.lock"
HEADER = ("# cookbooks.lock: the cookbooks runner loads from the git, archive, s3 and package entries of\n"
          "# stack.cookbooks. Written by `runner update-cookbooks`: commit it, review its diffs, do not edit it.\n")


@dataclass(frozen=True)
class LockedCookbook:
    name: str
    version: str
    source: dict[str, Any]
    revision: str | None
    sha256: str  # "sha256:<hex>" of the cookbook's tree
    archive_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        found = {"version": self.version, "source": self.source, "revision": self.revision, "sha256": self.sha256}
        if self.archive_sha256:
            found["archive_sha256"] = self.archive_sha256
        return found


@dataclass(frozen=True)
class LockedSource:
    source: dict[str, Any]
    cookbooks: tuple[str, ...]


@dataclass
class Lock:
    cookbooks: dict[str, LockedCookbook] = field(default_factory=dict)
    sources: list[LockedSource] = field(default_factory=list)

    def source(self, options: dict[str, Any]) -> LockedSource | None:
        """The locked record of a stack.cookbooks entry (compared as written), if any."""
        return next((s for s in self.sources if s.source == options), None)


def lock_path(stack_dir: Path) -> Path:
    return stack_dir / LOCK_NAME


def read_lock(path: Path) -> Lock | None:
    """The lock at ``path``; None when there is none. :raises UserError: it is not a lock runner wrote."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read {path.name}: {exc}", Location.of(path), _HINT) from None
    try:
        cookbooks = {name: LockedCookbook(str(name), str(entry["version"]), dict(entry["source"]),
                                          None if entry.get("revision") is None else str(entry["revision"]),
                                          str(entry["sha256"]), entry.get("archive_sha256"))
                     for name, entry in (data.get("cookbooks") or {}).items()}
        sources = [LockedSource(dict(s["source"]), tuple(str(n) for n in s.get("cookbooks") or ()))
                   for s in data.get("sources") or ()]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path.name} is not a cookbooks lock ({type(exc).__name__}: {exc})", Location.of(path),
                        _HINT) from None
    return Lock(cookbooks, sources)


def write_lock(path: Path, lock: Lock) -> None:
    """Write ``lock`` whole: to a temporary file beside it, then renamed over it (never half written)."""
    data = {
        "cookbooks": {name: lock.cookbooks[name].to_dict() for name in sorted(lock.cookbooks)},
        "sources": [{"source": s.source, "cookbooks": sorted(s.cookbooks)} for s in lock.sources],
    }
    text = HEADER + yaml.safe_dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True)
    replace_file(path, text)


_HINT = "run `runner update-cookbooks` to write it again"
