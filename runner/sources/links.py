"""Symlinks of a release tree that point outside it: refused before anything reaches a host.

A release may hold symlinks to its own files (``current.py -> app.py``), but
not to anything outside it: an absolute target, or a relative one that climbs
above the release root, would let a deploy (running as root) write through
the link, e.g. ``config -> /etc/victim`` becomes ``/etc/victim/environment``.

:func:`escaping_link` is also shipped to the hosts inside the remote archive
unpacker (see :func:`runner.sources.archives.remote_python`): it imports
nothing and uses nothing else of this module.
"""

from __future__ import annotations

import io
import tarfile


def escaping_link(links: dict[str, str]) -> tuple[str, str] | None:
    """The first (name, target), by name, of ``links`` whose target leaves the tree; None when none does.

    ``links`` maps each symlink's path (relative to the release root, ``/``
    separated) to its target. A target leaves the tree when it is absolute,
    or when resolving it climbs above the root at any point, following the
    tree's other links on the way as the kernel would (``a -> sub/up/..``
    with ``sub/up -> ..`` climbs out even though ``sub/up/..`` alone does not).
    """

    def resolve(parts: list[str], target: str, depth: int) -> list[str] | None:
        if target.startswith("/"):
            return None
        if depth > 40:  # a loop: the kernel gives ELOOP, nothing is reached through it
            return parts
        parts = list(parts)
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    return None
                parts.pop()
                continue
            here = "/".join(parts + [part])
            if here in links:
                resolved = resolve(parts, links[here], depth + 1)
                if resolved is None:
                    return None
                parts = resolved
            else:
                parts.append(part)
        return parts

    for name in sorted(links):
        if resolve(name.split("/")[:-1], links[name], 0) is None:
            return name, links[name]
    return None


def payload_links(payload: bytes) -> dict[str, str]:
    """Every symlink of a gzip'd tar payload: its path (without ``./``) -> its target.

    :raises tarfile.TarError, OSError, EOFError: when the payload is no gzip'd tar.
    """
    links: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
        for info in tar:
            if info.issym():
                name = "/".join(part for part in info.name.split("/") if part not in ("", "."))
                links[name] = info.linkname
    return links
