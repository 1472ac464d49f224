"""From ``stack.cookbooks`` to the local directories cookbooks are loaded from, through ``cookbooks.lock``.

Every command loads its cookbooks with :func:`load_cookbooks` (or the
directories with :func:`cookbook_dirs`):

- a stack with only ``path`` entries gets them as they are, and no lock;
- otherwise each fetched entry stands for its locked cookbooks' cache
  directories: no network once they are cached. With no lock yet, every
  entry is fetched once and the lock written; a cached tree whose hash is not
  the locked one, or a lock that does not match the entries, is exit 2 naming
  the cookbook and pointing at ``runner update-cookbooks``. A cache that is
  missing (a fresh checkout with a committed lock) is fetched again at the
  locked git commit and must hash as locked.

:func:`update` is ``runner update-cookbooks``: fetch, then rewrite the lock
(only the named cookbooks' entries when names are given).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from runner.cookbooks.cookbook import load_cookbook
from runner.cookbooks.cookbook_set import CookbookSet
from runner.cookbooks.fetch import Fetched, FetchedCookbook, cached_dir, fetch, package_cookbooks, tree_sha256
from runner.cookbooks.lock import Lock, LockedCookbook, LockedSource, lock_path, read_lock, write_lock
from runner.errors import Location, UserError
from runner.model.cookbook_sources import describe
from runner.model.stack import CookbookSource, Stack
from runner.secrets.reveal import Revealer
from runner.sources.api import AppSourceType

if TYPE_CHECKING:
    from runner.plugin.registry import Registry

UPDATE_HINT = "run `runner update-cookbooks` to fetch and lock them again"


@dataclass(frozen=True)
class CookbookMove:
    """One line of ``runner update-cookbooks``: a cookbook's locked revision before and after."""

    name: str
    source: str
    #: git commit, S3 VersionId or ETag, an archive's sha256, a distribution's name==version; None: not locked
    before: str | None
    after: str | None
    version_before: str | None
    version_after: str | None
    result: str  # added | updated | up to date | removed


def load_cookbooks(stack: Stack, registry: Registry | None = None, reveal: Revealer | None = None) -> CookbookSet:
    """The stack's cookbooks, from its paths and its locked sources (see the module docstring).

    Their attributes' ``!encrypted`` values are decrypted with ``reveal``, by default from what
    the stack already decrypted when it was validated (:attr:`Stack.decrypted`), so no
    identity is read again; a value decrypted only now (a stack loaded without validation) joins
    that table, and so the stack's secure values.
    """
    reveal = reveal if reveal is not None else Revealer(known=stack.decrypted)
    return CookbookSet.from_sources(cookbook_dirs(stack, registry), reveal)


def cookbook_dirs(stack: Stack, registry: Registry | None = None) -> list[CookbookSource]:
    """The directories to load cookbooks from, in search order, each as a ``path`` source at its entry.

    :raises UserError: fetching failed, or the cache or the lock does not match (exit 2).
    """
    if not any(source.remote for source in stack.cookbooks):
        return list(stack.cookbooks)
    lock = read_lock(lock_path(stack.directory))
    if lock is None:
        update(stack, registry)
        lock = read_lock(lock_path(stack.directory))
        assert lock is not None
    _check_matches(stack, lock)
    dirs: list[CookbookSource] = []
    for source in stack.cookbooks:
        if not source.remote:
            dirs.append(source)
            continue
        locked = lock.source(source.options)
        assert locked is not None
        if source.kind == "package":
            dirs.extend(_package_dirs(stack, source, lock, locked, registry))
            continue
        for name in locked.cookbooks:
            entry = lock.cookbooks[name]
            directory = cached_dir(stack, name, entry.sha256)
            if not directory.is_dir():
                _refetch(stack, source, entry, registry)
            _check_tree(directory / name, entry, source)
            dirs.append(replace(source, path=directory, kind="path"))
    return dirs


def update(stack: Stack, registry: Registry | None = None, names: Collection[str] = ()) -> list[CookbookMove]:
    """Fetch every fetched entry and rewrite the lock: all of it, or only the ``names`` cookbooks' entries.

    Everything is fetched before the lock is written: a failure leaves the lock (and the cache) as they were.
    :raises UserError: a fetch failed, or a name is no cookbook of a fetched entry.
    """
    path = lock_path(stack.directory)
    old = read_lock(path) or Lock()
    fresh = Lock()
    for source in stack.cookbooks:
        if source.remote:
            fetched = _fetch_any(stack, source, registry)
            fresh.sources.append(LockedSource(source.options, tuple(n for n in fetched.cookbooks
                                                                    if n not in fresh.cookbooks)))
            for name, found in fetched.cookbooks.items():
                fresh.cookbooks.setdefault(name, _locked(name, source, fetched, found))
    if not fresh.sources:
        return []
    unknown = [name for name in names if name not in fresh.cookbooks and name not in old.cookbooks]
    if unknown:
        raise UserError(f"no fetched cookbook source gives cookbook '{unknown[0]}'",
                        stack.where("stack", "cookbooks"),
                        f"fetched: {', '.join(sorted(fresh.cookbooks)) or 'none'} (path cookbooks are not locked)")
    new = fresh if not names else _merged(old, fresh, set(names))
    write_lock(path, new)
    return _moves(old, new)


def _merged(old: Lock, fresh: Lock, names: set[str]) -> Lock:
    """The old lock with only ``names`` taken from ``fresh`` (and the sources as they are now)."""
    cookbooks = {n: e for n, e in old.cookbooks.items() if n not in names}
    cookbooks.update({n: e for n, e in fresh.cookbooks.items() if n in names or n not in old.cookbooks})
    sources = []
    for source in fresh.sources:
        before = old.source(source.source)
        kept = () if before is None else tuple(n for n in before.cookbooks if n not in names and n in cookbooks)
        sources.append(LockedSource(source.source, tuple(dict.fromkeys(kept + source.cookbooks))))
    owned = {n for s in sources for n in s.cookbooks}
    return Lock({n: e for n, e in cookbooks.items() if n in owned}, sources)


def _moves(old: Lock, new: Lock) -> list[CookbookMove]:
    moves = []
    for name in sorted(set(old.cookbooks) | set(new.cookbooks)):
        before, after = old.cookbooks.get(name), new.cookbooks.get(name)
        if before is None:
            result = "added"
        elif after is None:
            result = "removed"
        else:
            result = "up to date" if before.to_dict() == after.to_dict() else "updated"
        shown = after or before
        assert shown is not None
        moves.append(CookbookMove(name, describe(shown.source), _revision(before), _revision(after),
                                  before.version if before else None, after.version if after else None, result))
    return moves


def _revision(entry: LockedCookbook | None) -> str | None:
    """What moves when a cookbook moves: an archive's own hash (its revision is its URL), else the revision."""
    if entry is None:
        return None
    if "archive" in entry.source and entry.archive_sha256:
        return entry.archive_sha256[:19]
    return entry.revision or entry.sha256[:19]


def _locked(name: str, source: CookbookSource, fetched: Fetched, found: FetchedCookbook) -> LockedCookbook:
    return LockedCookbook(name, found.cookbook.version, dict(source.options), fetched.revision, found.sha256,
                          fetched.archive_sha256)


def _fetch_any(stack: Stack, source: CookbookSource, registry: Registry | None,
               revision: str | None = None) -> Fetched:
    if source.kind == "package":
        dirs = package_cookbooks(source, _distribution_dirs(stack, source, registry),
                                 stack.where("stack", "cookbooks", source.index, "package"))
        version = _distribution_version(source.options["package"])
        return Fetched(version, None, {name: FetchedCookbook(load_cookbook(path), tree_sha256(path))
                                       for name, path in dirs.items()})
    return fetch(stack, source, _source_types(registry), revision)


def _source_types(registry: Registry | None) -> Mapping[str, type[AppSourceType]]:
    if registry is not None:
        return registry.app_sources
    from runner.sources.plugin import BUILTIN_SOURCES

    return {kind.name: kind for kind in BUILTIN_SOURCES}


def _distribution_dirs(stack: Stack, source: CookbookSource, registry: Registry | None) -> list[Path]:
    if registry is None:
        from runner.plugin.registry import Registry

        registry = Registry.load()
    name = source.options["package"]
    dirs = registry.cookbook_dirs(name)
    if dirs is None:
        raise UserError(f"no installed runner plugin comes from distribution '{name}'",
                        stack.where("stack", "cookbooks", source.index, "package"),
                        f"pip install {name} (see `runner plugins` for what is loaded)")
    return dirs


def _distribution_version(name: str) -> str | None:
    try:
        return f"{name}=={importlib.metadata.version(name)}"
    except importlib.metadata.PackageNotFoundError:
        return None


def _package_dirs(stack: Stack, source: CookbookSource, lock: Lock, locked: LockedSource,
                  registry: Registry | None) -> list[CookbookSource]:
    where = stack.where("stack", "cookbooks", source.index, "package")
    found = package_cookbooks(source, _distribution_dirs(stack, source, registry), where)
    dirs = []
    for name in locked.cookbooks:
        if name not in found:
            raise UserError(f"cookbook '{name}' is locked from {describe(source.options)}, which no longer ships it",
                            where, UPDATE_HINT)
        _check_tree(found[name], lock.cookbooks[name], source)
        dirs.append(replace(source, path=found[name].parent, kind="path"))
    return list(dict.fromkeys(dirs))


def _check_matches(stack: Stack, lock: Lock) -> None:
    """Exit 2 when an entry is not in the lock, or the lock holds one the stack no longer has."""
    remote = [source for source in stack.cookbooks if source.remote]
    for source in remote:
        if lock.source(source.options) is None:
            raise UserError(f"cookbook source {describe(source.options)} is not in cookbooks.lock",
                            stack.where("stack", "cookbooks", source.index), UPDATE_HINT)
    written = [source.options for source in remote]
    for locked in lock.sources:
        if locked.source not in written:
            raise UserError(f"cookbooks.lock holds {describe(locked.source)}, which stack.cookbooks no longer has",
                            Location.of(lock_path(stack.directory)), UPDATE_HINT)
    for locked in lock.sources:
        for name in locked.cookbooks:
            if name not in lock.cookbooks:
                raise UserError(f"cookbooks.lock lists cookbook '{name}' without its entry",
                                Location.of(lock_path(stack.directory)), UPDATE_HINT)


def _check_tree(directory: Path, entry: LockedCookbook, source: CookbookSource) -> None:
    found = tree_sha256(directory) if directory.is_dir() else None
    if found != entry.sha256:
        what = "is missing" if found is None else f"hashes to {found[:19]}..., not {entry.sha256[:19]}..."
        raise UserError(f"cookbook '{entry.name}' ({describe(source.options)}): its tree {directory} {what} "
                        "as cookbooks.lock says", source.location,
                        f"run `runner update-cookbooks {entry.name}` to fetch and lock it again"
                        + (", or remove the changed cache directory" if found else ""))


def _refetch(stack: Stack, source: CookbookSource, entry: LockedCookbook, registry: Registry | None) -> None:
    """Fetch a source again for a locked cookbook whose cache is gone: at the locked commit for git."""
    fetch(stack, source, _source_types(registry), entry.revision if source.kind == "git" else None)
