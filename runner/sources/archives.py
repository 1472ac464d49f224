"""Archives (.tar.gz, .tgz, .tar, .zip; recognised by their content): one reader for the laptop and the host.

:func:`archive_entries` is used on the laptop and shipped verbatim to the
host for ``fetch: remote``, so both ways give the same tree: members with an
absolute path or a ``..`` component, or below a symlink of the archive, are
refused, and so are symlinks pointing outside the tree; an archive whose
members all live in one top-level directory (as GitHub's archives do) has
that directory stripped.
"""

from __future__ import annotations

import inspect
import shlex
import tarfile
from collections.abc import Iterator
from pathlib import Path

from runner.errors import UserError
from runner.sources.api import PreparedSource, SourceContext
from runner.sources.http import download
from runner.sources.links import escaping_link
from runner.sources.tarpack import Entry, Packer, file_sha256

# escaping_link, archive_entries and unpack are sent to the host as they are (see remote_python):
# they import what they need and use nothing else of this module.


def archive_entries(path: str) -> Iterator[Entry]:
    """Yield (name, kind, mode, data) for the members of a tar (any compression) or zip archive.

    kind is "dir", "file" or "symlink"; data is the file's bytes, the symlink's
    target, or None. Sorted by name. Raises ValueError for a member with an
    absolute path or a ``..`` component, one below a symlink of the archive,
    a device or fifo, or a symlink pointing outside the archive's tree
    (see :func:`runner.sources.links.escaping_link`). If every member lives in one top-level directory,
    that directory is stripped.
    """
    import stat
    import tarfile
    import zipfile

    members = []  # (parts, kind, mode, read)
    if zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        for info in archive.infolist():
            mode = info.external_attr >> 16
            if info.is_dir():
                kind = "dir"
            elif stat.S_ISLNK(mode):
                kind = "symlink"
            else:
                kind = "file"
            members.append((info.filename, kind, mode, lambda info=info: archive.read(info)))
    else:
        archive = tarfile.open(path, "r:*")
        for info in archive.getmembers():
            if info.isdir():
                members.append((info.name, "dir", info.mode, lambda: None))
            elif info.issym():
                members.append((info.name, "symlink", 0o777, lambda info=info: info.linkname))
            elif info.isfile() or info.islnk():  # a hard link becomes a copy
                members.append((info.name, "file", info.mode, lambda info=info: archive.extractfile(info).read()))
            else:
                raise ValueError(f"archive member {info.name!r} is a device or fifo: not allowed in a release")
    cleaned = []
    for name, kind, mode, read in members:
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"archive member {name!r} has an absolute path or '..': refusing to unpack it")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if parts:
            cleaned.append((parts, kind, mode, read))
    tops = {parts[0] for parts, _, _, _ in cleaned}
    if len(tops) == 1 and all(len(parts) > 1 or kind == "dir" for parts, kind, _, _ in cleaned):
        cleaned = [(parts[1:], kind, mode, read) for parts, kind, mode, read in cleaned if len(parts) > 1]
    links = {"/".join(parts) for parts, kind, _, _ in cleaned if kind == "symlink"}
    for parts, _, _, _ in cleaned:
        for end in range(1, len(parts)):
            if "/".join(parts[:end]) in links:
                raise ValueError(f"archive member {'/'.join(parts)!r} is below a symlink: refusing to unpack it")
    targets = {}
    for parts, kind, _, read in cleaned:
        if kind == "symlink":
            target = read()
            text = target.decode("utf-8", "surrogateescape") if isinstance(target, bytes) else target
            targets["/".join(parts)] = text
    escaping = escaping_link(targets)
    if escaping is not None:
        raise ValueError(f"symlink {escaping[0]!r} -> {escaping[1]!r} points outside the release: "
                         "refusing to unpack it")
    for parts, kind, mode, read in sorted(cleaned, key=lambda member: member[0]):
        name = "/".join(parts)
        yield name, kind, mode, targets[name] if kind == "symlink" else read()


def unpack(path: str, destination: str) -> None:
    """Write the entries of an archive into ``destination`` (on the host, for fetch: remote)."""
    import os

    for name, kind, mode, data in archive_entries(path):
        target = os.path.join(destination, *name.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if kind == "dir":
            os.makedirs(target, exist_ok=True)
            os.chmod(target, 0o755)
            continue
        if os.path.lexists(target):
            os.unlink(target)
        if kind == "symlink":
            os.symlink(data, target)
        else:
            with open(target, "wb") as handle:
                handle.write(data)
            os.chmod(target, 0o755 if mode & 0o111 else 0o644)


def remote_python(main: str) -> str:
    """A python3 program for the host: the shipped functions (archive reader, unpacker, download) and ``main``."""
    functions = "\n\n".join(inspect.getsource(f) for f in (escaping_link, archive_entries, unpack, download))
    return (f"from __future__ import annotations\nimport sys\n\n{functions}\n\n"
            f"try:\n    {main}\nexcept Exception as exc:\n    sys.exit('runner: %s' % exc)\n")


def repacked(source: SourceContext, description: str, archive: Path, revision: str | None,
             key: str) -> PreparedSource:
    """An archive on the laptop as a deterministic payload; checksum of the original archive file.

    ``key`` names the option errors point at (``path``, ``url``, ``key``).
    """
    packer = Packer()
    try:
        for name, entry_kind, mode, data in archive_entries(str(archive)):
            packer.add(name, entry_kind, mode, data)
    except ValueError as exc:
        raise UserError(f"{source.subject}: {description}: {exc}", source.where(key)) from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UserError(f"{description} is not a .tar.gz, .tgz, .tar or .zip archive ({exc})",
                        source.where(key)) from None
    return PreparedSource(source.type, description, revision, file_sha256(archive), packer.finish(), None)


def archive_script(url: str) -> str:
    """sh for the host: download ``url`` (curl, else python3), checksum it, unpack it into $RELEASE."""
    fetch_python = remote_python("download(sys.argv[1], sys.argv[2])")
    unpack_python = remote_python("unpack(sys.argv[1], sys.argv[2])")
    return "\n".join([
        "(",
        "set -e",
        'tmp=$(mktemp -d)',
        "trap 'rm -rf \"$tmp\"' EXIT",
        f"url={shlex.quote(url)}",
        "if command -v curl >/dev/null 2>&1; then",
        '  curl -fsSL --retry 2 -o "$tmp/archive" -- "$url"',
        "else",
        f'  python3 -c {shlex.quote(fetch_python)} "$url" "$tmp/archive"',
        "fi",
        'sum=$(sha256sum "$tmp/archive" | cut -d " " -f 1)',
        f'python3 -c {shlex.quote(unpack_python)} "$tmp/archive" "$RELEASE"',
        'printf "sha256:%s\\n" "$sum" > "$RELEASE/.runner_checksum"',
        ")",
    ])
