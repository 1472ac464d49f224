"""Fetch a ``stack.cookbooks`` entry into the cache, with the app source types deploys use.

A git, archive or s3 entry is handed to the registered source type of that
name (:func:`runner.sources.api.prepare`: same fetchers, same checks, same
``.runner/cache`` of git mirrors and downloads). Its payload is unpacked with
tarfile's ``data`` filter (no absolute paths, no ``..``, no links leaving the
tree, no devices) into a scratch directory, ``subdirectory`` is applied, and
each cookbook found is moved whole into ``.runner/cookbooks/<name>-<tree
sha256>/<name>``: content-addressed, so a cached tree is never rewritten and a
failed fetch leaves every earlier one as it was. Nothing fetched is imported
or run: cookbooks are found by their files and read as YAML.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import tarfile
import tempfile
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.cookbooks.cookbook import Cookbook, is_cookbook_dir, load_cookbook
from runner.errors import UserError
from runner.model.stack import CookbookSource, Stack
from runner.sources.api import AppSourceType, SourceContext, prepare
from runner.sources.directory import walk
from runner.sources.tarpack import normal_mode


@dataclass(frozen=True)
class FetchedCookbook:
    cookbook: Cookbook  # read from its cache directory
    sha256: str


@dataclass(frozen=True)
class Fetched:
    """What one entry gave: its cookbooks (by name) and what it was resolved to."""

    revision: str | None
    archive_sha256: str | None
    cookbooks: dict[str, FetchedCookbook]


def cookbooks_cache(stack: Stack) -> Path:
    return stack.state_dir / "cookbooks"


def cached_dir(stack: Stack, name: str, sha256: str) -> Path:
    """The directory that holds cookbook ``name`` with tree ``sha256`` (and nothing else)."""
    return cookbooks_cache(stack) / f"{name}-{sha256.removeprefix('sha256:')}"


def tree_sha256(root: Path) -> str:
    """A stable hash of a tree: sorted relative paths, kinds, modes (as git keeps them) and contents.

    .git, __pycache__ and .runner are left out, as a directory app source leaves them out.
    """
    digest = hashlib.sha256()
    for name, kind, mode, data in walk(root):
        body = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else (data or b"")
        digest.update(f"{kind}\0{normal_mode(mode, kind == 'dir'):o}\0{name}\0{len(body)}\0".encode(
            "utf-8", "surrogateescape"))
        digest.update(body)
    return "sha256:" + digest.hexdigest()


def source_context(stack: Stack, source: CookbookSource, revision: str | None = None) -> SourceContext:
    """The app source type's view of a git / archive / s3 entry (``revision`` pins a git one)."""
    options, keys = source.options, ("stack", "cookbooks", source.index)
    subject = f"cookbook source stack.cookbooks[{source.index}]"
    cache = stack.state_dir / "cache"
    if source.kind == "git":
        found = {"url": options["git"], "revision": revision or options.get("ref", "HEAD")}
        return SourceContext.for_options("git", found, stack, cache, keys, subject,
                                         {"type": "git", "url": "git", "revision": "ref"})
    if source.kind == "archive":
        where = options["archive"]
        found = {"url": where} if urllib.parse.urlsplit(where).scheme in ("http", "https") else {"path": where}
        return SourceContext.for_options("archive", found, stack, cache, keys, subject,
                                         {"type": "archive", "url": "archive", "path": "archive"})
    if source.kind == "s3":
        parts = urllib.parse.urlsplit(options["s3"])
        found = {"bucket": parts.netloc, "key": parts.path.lstrip("/"),
                 **{k: options[k] for k in ("region", "endpoint_url") if k in options}}
        return SourceContext.for_options("s3", found, stack, cache, keys, subject,
                                         {"type": "s3", "bucket": "s3", "key": "s3"})
    raise ValueError(f"not a fetched cookbook source kind: {source.kind!r}")


def fetch(stack: Stack, source: CookbookSource, types: Mapping[str, type[AppSourceType]],
          revision: str | None = None) -> Fetched:
    """Fetch a git, archive or s3 entry and cache its cookbooks (``revision``: a git commit to pin).

    :raises UserError: anything wrong with the source (unreachable, unknown ref, bad or unsafe archive),
        at the entry in stack.yml; nothing cached before is touched.
    """
    context = source_context(stack, source, revision)
    prepared = prepare(context, types)
    assert prepared.payload is not None  # cookbooks are always fetched here, never on the hosts
    cache = cookbooks_cache(stack)
    cache.mkdir(parents=True, exist_ok=True)
    with _scratch(cache) as scratch:
        _unpack(prepared.payload, scratch, context)
        root = scratch
        if "subdirectory" in source.options:
            root = scratch / source.options["subdirectory"]
            if not root.is_dir():
                raise UserError(f"{context.subject}: {prepared.description} has no directory "
                                f"'{source.options['subdirectory']}'", context.where("subdirectory"))
        found = {name: _cache_one(stack, cookbook) for name, cookbook in find_cookbooks(root, source, context).items()}
    archive_sha = prepared.checksum if source.kind in ("archive", "s3") else None
    revision_found = prepared.revision or (source.options["archive"] if source.kind == "archive" else None)
    return Fetched(revision_found, archive_sha, found)


def find_cookbooks(root: Path, source: CookbookSource, context: SourceContext | None = None) -> dict[str, Cookbook]:
    """The cookbooks in a tree: its cookbook directories, or the tree itself when it is one cookbook.

    A tree that is one cookbook is named by its metadata.yml ``name`` (else its subdirectory's name).
    """
    where = context.where() if context else source.location
    children = [child for child in sorted(root.iterdir()) if is_cookbook_dir(child)]
    if not children and ((root / "metadata.yml").is_file() or (root / "recipes").is_dir()):
        cookbook = load_cookbook(root)
        named = cookbook.name != root.name or "subdirectory" in source.options
        if not named:
            raise UserError(f"stack.cookbooks[{source.index}] is a single cookbook without a name",
                            where, "give it 'name:' in its metadata.yml, or put it in a directory of its name")
        return {cookbook.name: cookbook}
    found: dict[str, Cookbook] = {}
    for child in children:
        cookbook = load_cookbook(child)
        if cookbook.name in found:
            raise UserError(f"stack.cookbooks[{source.index}] holds cookbook '{cookbook.name}' twice "
                            f"({found[cookbook.name].path.name}, {child.name})", where)
        found[cookbook.name] = cookbook
    return found


def _cache_one(stack: Stack, cookbook: Cookbook) -> FetchedCookbook:
    """Move a fetched cookbook into its content-addressed directory (kept when it is there already)."""
    if "/" in cookbook.name or cookbook.name.startswith("."):
        raise UserError(f"cookbook name '{cookbook.name}' is not a plain name", None)
    sha = tree_sha256(cookbook.path)
    target = cached_dir(stack, cookbook.name, sha)
    changed = target.is_dir() and tree_sha256(target / cookbook.name) != sha  # edited in the cache since
    if not target.is_dir() or changed:
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        spoiled = target.parent / f".{target.name}.changed"
        try:
            shutil.move(str(cookbook.path), staging / cookbook.name)
            if changed:  # a fetch mends it: the changed copy is put aside, then replaced whole
                shutil.rmtree(spoiled, ignore_errors=True)
                target.rename(spoiled)
            with contextlib.suppress(OSError):  # made meanwhile by another run: the same content
                staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(spoiled, ignore_errors=True)
    return FetchedCookbook(load_cookbook(target / cookbook.name), sha)


@contextlib.contextmanager
def _scratch(cache: Path) -> Iterator[Path]:
    scratch = Path(tempfile.mkdtemp(dir=cache, prefix=".fetch-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _unpack(payload: bytes, destination: Path, context: SourceContext) -> None:
    try:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
            tar.extractall(destination, filter="data")
    except tarfile.FilterError as exc:
        raise UserError(f"{context.subject}: refusing to unpack it: {exc}", context.where()) from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UserError(f"{context.subject}: cannot unpack what was fetched ({exc})", context.where()) from None


def package_cookbooks(source: CookbookSource, dirs: list[Path], where: Any) -> dict[str, Path]:
    """The cookbook directories of an installed distribution's cookbook dirs, first one per name."""
    found: dict[str, Path] = {}
    for directory in dirs:
        if not directory.is_dir():
            raise UserError(f"distribution '{source.options['package']}' names cookbook directory {directory}, "
                            "which does not exist", where)
        for child in sorted(directory.iterdir()):
            if is_cookbook_dir(child):
                found.setdefault(load_cookbook(child).name, child)
    return found
