"""Deterministic tar payloads: the same content gives the same bytes (and checksum) on every laptop.

Entries are sorted by name, mtime fixed, owner root (uid/gid 0, no user or
group names), gzip header time 0, and modes normalised the way git stores
them (0755 for directories and for files with any execute bit, 0644 for
other files), whatever the umask. Symlinks stay symlinks.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

FIXED_MTIME = 315532800  # 1980-01-01, the earliest time a zip can hold too
#: name, kind (dir | file | symlink), mode, data (bytes of a file, target of a symlink, None for a directory)
Entry = tuple[str, str, int, "bytes | str | None"]


def normal_mode(mode: int, is_dir: bool) -> int:
    """Permissions as git keeps them: 0755 for directories and executables, 0644 otherwise."""
    return 0o755 if is_dir or mode & 0o111 else 0o644


class Packer:
    """Writes entries, sorted by name, into a deterministic tar.gz in memory; adds missing parent directories."""

    def __init__(self) -> None:
        self.directories: set[str] = set()
        self.buffer = io.BytesIO()
        self.gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self.buffer, mtime=0)
        self.tar = tarfile.open(fileobj=self.gzip, mode="w", format=tarfile.PAX_FORMAT)

    def add(self, name: str, kind: str, mode: int, data: bytes | str | None) -> None:
        parent = name.rpartition("/")[0]
        if parent and parent not in self.directories:
            self.add(parent, "dir", 0o755, None)
        if kind == "dir":
            self.directories.add(name)
        info = tarfile.TarInfo(name)
        info.mtime = FIXED_MTIME
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if kind == "dir":
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            self.tar.addfile(info)
        elif kind == "symlink":
            assert isinstance(data, str)
            info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, data
            self.tar.addfile(info)
        else:
            assert isinstance(data, bytes)
            info.mode, info.size = normal_mode(mode, False), len(data)
            self.tar.addfile(info, io.BytesIO(data))

    def finish(self) -> bytes:
        self.tar.close()
        self.gzip.close()
        return self.buffer.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()
