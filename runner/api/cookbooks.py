"""``runner cookbooks``: the cookbooks a stack uses, where each came from and what needs it; and
``vendor``, a copy of them in one directory. Neither touches a host."""

from __future__ import annotations

from pathlib import Path

from runner.api.base import SessionBase
from runner.api.reports import CookbookListReport, CookbookRow, VendorReport
from runner.cookbooks import CookbookSet, split_recipe
from runner.cookbooks.cookbook import Cookbook
from runner.cookbooks.lock import lock_path, read_lock
from runner.cookbooks.resolve import load_cookbooks
from runner.cookbooks.vendor import vendor
from runner.cookbooks.versions import source_of
from runner.errors import UserError


def load(session: SessionBase) -> CookbookSet:
    """The stack's cookbooks, first match wins along ``stack.cookbooks`` (fetched ones as locked)."""
    return load_cookbooks(session.stack, session.registry)


def list_cookbooks(session: SessionBase) -> CookbookListReport:
    cookbooks = load(session)
    layers: dict[str, list[str]] = {}
    for name, layer in session.stack.layers.items():
        for refs in layer.recipes.values():
            for ref in refs:
                try:
                    book = split_recipe(ref)[0]
                except UserError:
                    continue  # reported by validation when the session opened
                if name not in layers.setdefault(book, []):
                    layers[book].append(name)
    lock = read_lock(lock_path(session.stack.directory))
    locked = lock.cookbooks if lock is not None else {}

    def fetched(book: Cookbook) -> bool:
        return book.path.is_relative_to(session.stack.state_dir)

    report = CookbookListReport(session.stack.name)
    for book in sorted(cookbooks, key=lambda b: b.name):
        entry = locked.get(book.name)
        report.cookbooks.append(CookbookRow(
            name=book.name, version=book.version, source=source_of(book), path=str(book.path),
            revision=entry.revision if entry is not None and fetched(book) else None,
            dependents=sorted(c.name for c in cookbooks.dependents(book.name)),
            layers=layers.get(book.name, []),
            shadowed=[f"{c.version} in {source_of(c)}" for c in cookbooks.candidates(book.name)[1:]],
        ))
    return report


def vendor_cookbooks(session: SessionBase, directory: str | Path, *, force: bool = False) -> VendorReport:
    cookbooks = load(session)
    files = vendor(sorted(cookbooks, key=lambda b: b.name), directory, force=force)
    return VendorReport(session.stack.name, str(Path(directory).absolute()), files)
