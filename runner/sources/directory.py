"""Source type ``directory``: a directory on this machine, packed here and streamed to the hosts."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from runner.errors import UserError
from runner.sources.api import AppSourceType, PreparedSource, SourceContext, SourceKey, SourceProblem
from runner.sources.tarpack import Entry, Packer, sha256

SKIPPED_NAMES = frozenset({".git", "__pycache__", ".runner"})


class DirectorySource(AppSourceType):
    name = "directory"
    description = "a directory on this machine (without .git, __pycache__, .runner), packed here and streamed"
    keys = (SourceKey("path", "path", description="the directory, relative to the stack file"),)
    no_remote_reason = ("a directory source is on this machine: it is always packed here and streamed; "
                        "'fetch: remote' is for archive (url), git and s3")

    @classmethod
    def check(cls, options: Mapping[str, Any]) -> Iterable[SourceProblem]:
        if "path" not in options:
            yield SourceProblem(None, "directory source needs 'path' (a directory on this machine)")

    def prepare(self, source: SourceContext) -> PreparedSource:
        if "url" in source.options:
            raise UserError("a directory source takes a 'path', not a 'url'", source.where("url"),
                            hint="use type: archive for a .tar.gz or .zip at a URL")
        root = source.path()
        if not root.is_dir():
            what = "is not a directory" if root.exists() else "does not exist"
            raise UserError(f"app source directory {root} {what}", source.where("path"))
        packer = Packer()
        for name, kind, mode, data in walk(root):
            packer.add(name, kind, mode, data)
        payload = packer.finish()
        return PreparedSource("directory", f"directory {source.shown_path(root)}", None, sha256(payload),
                              payload, None)

    def prepare_remote(self, source: SourceContext) -> PreparedSource:
        raise UserError("a directory source is on this machine: 'fetch: remote' makes no sense for it",
                        source.where("fetch"), hint="use type archive, git or s3 to fetch on the hosts")


def walk(root: Path, relative: str = "") -> Iterator[Entry]:
    """(name, kind, mode, data) for everything below ``root``, sorted, without .git, __pycache__, .runner.

    Symlinks are not followed; sockets, fifos and devices are left out.
    """
    with os.scandir(root / relative if relative else root) as scan:
        entries = sorted(scan, key=lambda e: e.name)
    for entry in entries:
        if entry.name in SKIPPED_NAMES:
            continue
        name = f"{relative}/{entry.name}" if relative else entry.name
        if entry.is_symlink():
            yield name, "symlink", 0o777, os.readlink(entry.path)
        elif entry.is_dir():
            yield name, "dir", 0o755, None
            yield from walk(root, name)
        elif entry.is_file():
            yield name, "file", entry.stat().st_mode, Path(entry.path).read_bytes()
