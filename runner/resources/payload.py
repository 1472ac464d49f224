"""What a step sends to the host besides its script: bytes, or a local file read when it is sent.

A :class:`FilePayload` knows its size and checksum and yields the file in
chunks each time it is sent, so a large ``file(source=...)`` travels from disk
to every host without ever being held in memory, whatever the number of hosts:
each host's send opens the file on its own. Small contents stay ``bytes``
(third-party resource types may keep giving bytes).
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 64 * 1024

#: files up to this size are read into memory (a plan can show their diff); larger ones are streamed
READ_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class FilePayload:
    """A file on this machine sent as a payload: exactly ``size`` bytes, read in chunks when sent.

    ``mtime_ns`` and ``inode`` pin the version whose checksum :meth:`sha256` gives (cached per
    version, so many hosts hash a file once).
    """

    path: Path
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: str | Path) -> "FilePayload":
        st = os.stat(path)
        return cls(Path(path), st.st_size, st.st_mtime_ns, st.st_ino)

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes]:  # so it can be given as stdin (Iterable[bytes]) directly
        return self.chunks()

    def chunks(self) -> Iterator[bytes]:
        """The file's first ``size`` bytes, in chunks.

        A file that shrank or went away meanwhile is padded with NUL bytes up to ``size``: what
        follows it on the wire stays in place, and the step's checksum check on the host fails
        (see :func:`runner.resources.builtin.file`); a send never raises half-way.
        """
        left = self.size
        try:
            with open(self.path, "rb") as stream:
                while left > 0:
                    chunk = stream.read(min(CHUNK, left))
                    if not chunk:
                        break
                    left -= len(chunk)
                    yield chunk
        except OSError:
            pass
        while left > 0:
            pad = min(CHUNK, left)
            left -= pad
            yield b"\0" * pad

    def sha256(self) -> str:
        return _sha256(self.path, self.size, self.mtime_ns, self.inode)


#: a step's payload: bytes (small contents, third-party types) or a file read when sent
Payload = bytes | FilePayload


def payload_size(payload: Payload) -> int:
    return len(payload)


def payload_chunks(payload: Payload) -> Iterator[bytes]:
    """The payload's bytes in chunks of at most :data:`CHUNK` (a file is read as it goes)."""
    if isinstance(payload, FilePayload):
        yield from payload.chunks()
        return
    for start in range(0, len(payload), CHUNK):
        yield payload[start:start + CHUNK]


def payload_sha256(payload: Payload) -> str:
    """The payload's sha256, hex; a file is hashed in chunks, never read whole."""
    if isinstance(payload, FilePayload):
        return payload.sha256()
    return hashlib.sha256(payload).hexdigest()


@functools.lru_cache(maxsize=256)
def _sha256(path: Path, size: int, mtime_ns: int, inode: int) -> str:
    """The checksum of what :meth:`FilePayload.chunks` sends; raises OSError when the file cannot be read."""
    digest = hashlib.sha256()
    left = size
    with open(path, "rb") as stream:
        while left > 0 and (chunk := stream.read(min(CHUNK, left))):
            digest.update(chunk)
            left -= len(chunk)
    while left > 0:  # as sent when it shrank meanwhile
        pad = min(CHUNK, left)
        digest.update(b"\0" * pad)
        left -= pad
    return digest.hexdigest()
