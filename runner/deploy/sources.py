"""App sources: turn an app's ``source:`` into what a release directory is filled from.

:func:`prepare_source` returns a :class:`PreparedSource`: either a *payload*
(a gzip'd tar made on the laptop, unpacked on each host) or a *remote script*
(POSIX sh that fills ``$RELEASE`` on the host itself, for ``fetch: remote``:
the artifact never passes through the laptop).

Every tar made here is deterministic: entries sorted by name, mtime fixed,
owner root (uid/gid 0, no user or group names), gzip header time 0, and modes
normalised the way git stores them (0755 for directories and for files with
any execute bit, 0644 for other files), so the same content gives the same
checksum on every laptop whatever its umask. Symlinks stay symlinks.

Archives (.tar.gz, .tgz, .tar, .zip; recognised by their content) are
unpacked by one reader, :func:`_archive_entries`, used on the laptop and
shipped verbatim to the host for ``fetch: remote``, so both ways give the same
tree: members with an absolute path or a ``..`` component, or below a symlink
of the archive, are refused; an archive whose members all live in one
top-level directory (as GitHub's archives do) has that directory stripped.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import inspect
import io
import os
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.errors import Location, UserError
from runner.model.stack import App, Stack

SKIPPED_NAMES = frozenset({".git", "__pycache__", ".runner"})
FIXED_MTIME = 315532800  # 1980-01-01, the earliest time a zip can hold too
PRESIGNED_EXPIRY = 15 * 60
GIT_UMASK = "022"  # git archive's default (002) would make files 0664: normalise like our own tars
Entry = tuple[str, str, int, "bytes | str | None"]  # name, kind (dir | file | symlink), mode, data


@dataclass(frozen=True)
class PreparedSource:
    """What a release directory is filled from; see the module docstring."""

    type: str  # directory | archive | git | s3
    description: str  # one line for reports; never holds credentials
    revision: str | None  # git: full commit sha; s3: VersionId or ETag; else None
    checksum: str | None  # "sha256:<hex>" when known on the laptop; None when fetched on the host
    # gzip'd tar of the release contents, for: tar -xzf - -C "$RELEASE"
    payload: bytes | None = field(repr=False)
    # sh that fills $RELEASE and writes .runner_checksum (+ .runner_revision); may hold a URL's credentials
    # or a presigned URL: keep it out of logs (hence out of repr too)
    remote_script: str | None = field(repr=False)
    needs: tuple[str, ...] = ()  # commands the remote script needs on the host


def prepare_source(app: App, stack: Stack, cache_dir: Path) -> PreparedSource:
    """Prepare ``app``'s source for a deploy; ``cache_dir`` keeps git clones and downloads.

    Raises :class:`UserError` for anything the user can fix (a missing
    directory, an unknown git revision, a missing S3 key, a bad archive).
    """
    source = _Source(app, stack, cache_dir)
    prepare = {"directory": _directory, "archive": _archive, "git": _git, "s3": _s3}.get(app.source.type)
    if prepare is None:
        raise UserError(f"unknown app source type '{app.source.type}'", source.where("type"))
    return prepare(source)


class _Source:
    """An app's source options with the stack around them, for the preparers below."""

    def __init__(self, app: App, stack: Stack, cache_dir: Path):
        self.app = app
        self.stack = stack
        self.options: dict[str, Any] = app.source.options
        self.cache_dir = cache_dir
        self.remote = self.options.get("fetch", "local") == "remote"

    def where(self, key: str | None = None) -> Location:
        keys = ("apps", self.app.name, "source") + ((key,) if key else ())
        return self.stack.where(*keys)

    def path(self) -> Path:
        """``path`` resolved against the stack file's directory (validation already does; tests may not)."""
        return (self.stack.path.parent / Path(self.options["path"]).expanduser()).absolute()

    def shown_path(self, path: Path) -> str:
        """A path as short as it can be for a report: relative to the stack directory when inside it."""
        try:
            return str(path.relative_to(self.stack.path.parent.absolute()))
        except ValueError:
            return str(path)

    def cache(self, *parts: str) -> Path:
        directory = self.cache_dir.joinpath(*parts)
        directory.mkdir(parents=True, exist_ok=True)
        return directory


# -- deterministic tar payloads ---------------------------------------------


def _normal_mode(mode: int, is_dir: bool) -> int:
    """Permissions as git keeps them: 0755 for directories and executables, 0644 otherwise."""
    return 0o755 if is_dir or mode & 0o111 else 0o644


class _Packer:
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
            info.mode, info.size = _normal_mode(mode, False), len(data)
            self.tar.addfile(info, io.BytesIO(data))

    def finish(self) -> bytes:
        self.tar.close()
        self.gzip.close()
        return self.buffer.getvalue()


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


# -- directory ----------------------------------------------------------------


def _directory(source: _Source) -> PreparedSource:
    if source.remote:
        raise UserError("a directory source is on this machine: 'fetch: remote' makes no sense for it",
                        source.where("fetch"), hint="use type archive, git or s3 to fetch on the hosts")
    if "url" in source.options:
        raise UserError("a directory source takes a 'path', not a 'url'", source.where("url"),
                        hint="use type: archive for a .tar.gz or .zip at a URL")
    root = source.path()
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "does not exist"
        raise UserError(f"app source directory {root} {what}", source.where("path"))
    packer = _Packer()
    for name, kind, mode, data in _walk(root):
        packer.add(name, kind, mode, data)
    payload = packer.finish()
    return PreparedSource("directory", f"directory {source.shown_path(root)}", None, _sha256(payload), payload, None)


def _walk(root: Path, relative: str = "") -> Iterator[Entry]:
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
            yield from _walk(root, name)
        elif entry.is_file():
            yield name, "file", entry.stat().st_mode, Path(entry.path).read_bytes()


# -- archives: one reader for the laptop and the host ---------------------------
# The functions in this section are sent to the host as they are (see
# _remote_python): they import what they need and use nothing else of this module.


def _archive_entries(path: str) -> Iterator[Entry]:
    """Yield (name, kind, mode, data) for the members of a tar (any compression) or zip archive.

    kind is "dir", "file" or "symlink"; data is the file's bytes, the symlink's
    target, or None. Sorted by name. Raises ValueError for a member with an
    absolute path or a ``..`` component, one below a symlink of the archive,
    or a device or fifo. If every member lives in one top-level directory,
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
    for parts, kind, mode, read in sorted(cleaned, key=lambda member: member[0]):
        data = read()
        if kind == "symlink" and isinstance(data, bytes):
            data = data.decode("utf-8", "surrogateescape")
        yield "/".join(parts), kind, mode, data


def _unpack(path: str, destination: str) -> None:
    """Write the entries of an archive into ``destination`` (on the host, for fetch: remote)."""
    import os

    for name, kind, mode, data in _archive_entries(path):
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


def _download(url: str, destination: str) -> None:
    """Fetch an http(s) URL into a file; ``user:password@`` in the URL becomes basic auth."""
    import base64
    import shutil
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    request = urllib.request.Request(url)
    if parts.username is not None:
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        request = urllib.request.Request(urllib.parse.urlunsplit(parts._replace(netloc=netloc)))
        secret = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        request.add_header("Authorization", "Basic " + base64.b64encode(secret.encode()).decode())
    with urllib.request.urlopen(request, timeout=60) as response, open(destination, "wb") as handle:
        shutil.copyfileobj(response, handle)


def _remote_python(main: str) -> str:
    """A python3 program for the host: the shipped functions above and ``main``."""
    functions = "\n\n".join(inspect.getsource(f) for f in (_archive_entries, _unpack, _download))
    return (f"from __future__ import annotations\nimport sys\n\n{functions}\n\n"
            f"try:\n    {main}\nexcept Exception as exc:\n    sys.exit('runner: %s' % exc)\n")


# -- archive ------------------------------------------------------------------


def _archive(source: _Source) -> PreparedSource:
    if "url" in source.options:
        url = source.options["url"]
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise UserError(f"archive url must be http:// or https://, got {_public_url(url)}", source.where("url"))
        description = f"archive {_public_url(url)}"
        if source.remote:
            return PreparedSource("archive", description, None, None, None, _archive_script(url), ("python3",))
        with _scratch(source) as scratch:
            try:
                _download(url, scratch)
            except OSError as exc:  # urllib's errors (HTTPError, URLError) are OSErrors
                raise UserError(f"cannot download {_public_url(url)}: {_redact(str(exc), url)}",
                                source.where("url")) from None
            return _repacked(source, "archive", description, scratch, None, "url")
    if source.remote:
        raise UserError("'fetch: remote' needs the archive at a 'url' the hosts can reach, not a local 'path'",
                        source.where("fetch"))
    path = source.path()
    if not path.is_file():
        raise UserError(f"app source archive {path} does not exist", source.where("path"))
    return _repacked(source, "archive", f"archive {source.shown_path(path)}", path, None, "path")


def _repacked(source: _Source, kind: str, description: str, archive: Path, revision: str | None,
              key: str) -> PreparedSource:
    """An archive on the laptop as a deterministic payload; checksum of the original archive file."""
    packer = _Packer()
    try:
        for name, entry_kind, mode, data in _archive_entries(str(archive)):
            packer.add(name, entry_kind, mode, data)
    except ValueError as exc:
        raise UserError(f"{description}: {exc}", source.where(key)) from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UserError(f"{description} is not a .tar.gz, .tgz, .tar or .zip archive ({exc})",
                        source.where(key)) from None
    return PreparedSource(kind, description, revision, _file_sha256(archive), packer.finish(), None)


@contextlib.contextmanager
def _scratch(source: _Source) -> Iterator[Path]:
    """A temporary file in the cache directory for a download, removed afterwards."""
    handle, name = tempfile.mkstemp(dir=source.cache("downloads"), prefix="download-")
    os.close(handle)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _archive_script(url: str) -> str:
    """sh for the host: download ``url`` (curl, else python3), checksum it, unpack it into $RELEASE."""
    fetch_python = _remote_python("_download(sys.argv[1], sys.argv[2])")
    unpack_python = _remote_python("_unpack(sys.argv[1], sys.argv[2])")
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


def _public_url(url: str) -> str:
    """``url`` without ``user:password@`` and without its query (which may hold a token)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _redact(text: str, url: str) -> str:
    return text.replace(url, _public_url(url))


# -- git ----------------------------------------------------------------------


def _git(source: _Source) -> PreparedSource:
    url = source.options["url"]
    revision = str(source.options.get("revision") or "HEAD")
    if revision.startswith("-"):
        raise UserError(f"git revision '{revision}' starts with '-'", source.where("revision"))
    description = f"git {_public_url(url)} @ {revision}"
    if source.remote:
        return PreparedSource("git", description, None, None, None, _git_script(url, revision), ("git",))
    mirror = _git_mirror(source, url)
    found = _run_git(["git", "-C", str(mirror), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
                     url, source.where("url"), check=False)
    sha = found.stdout.decode().strip()
    if found.returncode != 0 or not sha:
        raise UserError(f"git revision '{revision}' not found in {_public_url(url)}", source.where("revision"),
                        hint="a branch, a tag or a commit sha of that repository")
    tree = _run_git(["git", "-C", str(mirror), "-c", f"tar.umask={GIT_UMASK}", "archive", "--format=tar", sha],
                    url, source.where("url")).stdout
    return PreparedSource("git", description, sha, _sha256(tree), gzip.compress(tree, mtime=0), None)


def _git_mirror(source: _Source, url: str) -> Path:
    """A mirror clone of ``url`` in the cache, made once and fetched on later calls."""
    mirror = source.cache("git") / hashlib.sha256(url.encode()).hexdigest()[:24]
    if (mirror / "HEAD").exists():
        _run_git(["git", "-C", str(mirror), "fetch", "--prune", "--quiet", "origin"], url, source.where("url"))
        return mirror
    partial = Path(tempfile.mkdtemp(dir=mirror.parent, prefix=mirror.name + ".partial-"))
    try:
        _run_git(["git", "clone", "--mirror", "--quiet", "--", url, str(partial)], url, source.where("url"))
        with contextlib.suppress(OSError):  # another run may have made the mirror meanwhile: keep that one
            partial.rename(mirror)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return mirror


def _run_git(argv: list[str], url: str, where: Location, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    environ = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", LC_ALL="C")
    try:
        done = subprocess.run(argv, capture_output=True, env=environ, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise UserError("git is not installed on this machine", where,
                        hint="install git, or set 'fetch: remote' to fetch on the hosts") from None
    if check and done.returncode != 0:
        message = _redact(done.stderr.decode(errors="replace").strip(), url) or f"exit status {done.returncode}"
        raise UserError(f"git failed for {_public_url(url)}: {message}", where)
    return done


def _git_script(url: str, revision: str) -> str:
    """sh for the host: a shallow fetch of ``revision``, its tree into $RELEASE, sha and checksum beside it.

    A server that refuses a shallow fetch of a bare sha gets a full fetch of
    every ref, in which the revision is then looked up.
    """
    return "\n".join([
        "(",
        "set -e",
        "export GIT_TERMINAL_PROMPT=0 LC_ALL=C",
        "tmp=$(mktemp -d)",
        "trap 'rm -rf \"$tmp\"' EXIT",
        f"url={shlex.quote(url)}",
        f"rev={shlex.quote(revision)}",
        'git init --quiet --bare "$tmp/repo"',
        'if git -C "$tmp/repo" fetch --quiet --depth 1 -- "$url" "$rev" 2>"$tmp/err"; then',
        '  sha=$(git -C "$tmp/repo" rev-parse --verify "FETCH_HEAD^{commit}")',
        "else",
        '  git -C "$tmp/repo" fetch --quiet -- "$url" "+refs/*:refs/*" "+HEAD:refs/runner/HEAD"',
        '  [ "$rev" = HEAD ] && rev=refs/runner/HEAD',
        '  sha=$(git -C "$tmp/repo" rev-parse --verify --quiet "$rev^{commit}") ||'
        ' { echo "runner: git revision $rev not found" >&2; cat "$tmp/err" >&2; exit 1; }',
        "fi",
        f'git -C "$tmp/repo" -c tar.umask={GIT_UMASK} archive --format=tar "$sha" > "$tmp/tree.tar"',
        'sum=$(sha256sum "$tmp/tree.tar" | cut -d " " -f 1)',
        'tar -xf "$tmp/tree.tar" -C "$RELEASE"',
        'printf "sha256:%s\\n" "$sum" > "$RELEASE/.runner_checksum"',
        'printf "%s\\n" "$sha" > "$RELEASE/.runner_revision"',
        ")",
    ])


# -- s3 -----------------------------------------------------------------------


def _s3(source: _Source) -> PreparedSource:
    """An S3 object holding an archive; boto3 finds credentials, region and AWS_ENDPOINT_URL itself."""
    bucket, key = source.options["bucket"], source.options["key"]
    region = source.options.get("region")
    description = f"s3 s3://{bucket}/{key}" + (f" ({region})" if region else "")
    client = _s3_client(source, region)
    with _s3_errors(source, bucket, key, client):
        head = client.head_object(Bucket=bucket, Key=key)
        version = head.get("VersionId")
        revision = version or head["ETag"].strip('"')
        pinned = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
        if source.remote:
            url = client.generate_presigned_url("get_object", Params=pinned, ExpiresIn=PRESIGNED_EXPIRY)
            return PreparedSource("s3", description, revision, None, None, _archive_script(url), ("python3",))
        with _scratch(source) as scratch:
            body = client.get_object(**pinned)["Body"]
            with scratch.open("wb") as handle:
                while chunk := body.read(1 << 20):
                    handle.write(chunk)
            return _repacked(source, "s3", description, scratch, revision, "key")


def _s3_client(source: _Source, region: str | None) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise UserError("an s3 app source needs boto3, which is not installed", source.where("type"),
                        hint="pip install 'opsrunner[s3]'") from None
    # Signature version 4 for presigned URLs too (boto3 may still presign with the deprecated version 2)
    return boto3.session.Session().client("s3", region_name=region, config=Config(signature_version="s3v4"))


@contextlib.contextmanager
def _s3_errors(source: _Source, bucket: str, key: str, client: Any) -> Iterator[None]:
    """Turns boto3's errors about credentials, buckets and keys into UserErrors."""
    import botocore.exceptions as errors

    where, name = source.where("bucket"), f"s3://{bucket}/{key}"
    try:
        yield
    except (errors.NoCredentialsError, errors.PartialCredentialsError):
        raise UserError(f"no AWS credentials to read {name}", where,
                        hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE") from None
    except errors.BotoCoreError as exc:
        raise UserError(f"cannot read {name}: {exc}", where) from None
    except errors.ClientError as exc:
        code = _error_code(exc)
        if code == "NoSuchBucket" or (code in ("404", "NotFound") and not _bucket_exists(client, bucket)):
            raise UserError(f"S3 bucket '{bucket}' does not exist", where,
                            hint="check 'bucket', and 'region' or AWS_ENDPOINT_URL") from None
        if code in ("404", "NotFound", "NoSuchKey"):
            raise UserError(f"no object '{key}' in S3 bucket '{bucket}'", source.where("key"),
                            hint="check 'key': was the artifact uploaded?") from None
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            raise UserError(f"access to {name} denied ({code})", where,
                            hint="check the AWS credentials and that they may s3:GetObject this key") from None
        raise UserError(f"cannot read {name}: {exc}", where) from None


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _bucket_exists(client: Any, bucket: str) -> bool:
    """After a bare 404 from head_object: is it the bucket or the key that is missing?"""
    import botocore.exceptions as errors

    try:
        client.head_bucket(Bucket=bucket)
    except errors.ClientError as exc:
        return _error_code(exc) not in ("404", "NoSuchBucket", "NotFound")
    return True


__all__ = ["PreparedSource", "prepare_source"]
