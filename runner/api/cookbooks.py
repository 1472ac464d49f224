"""``runner cookbooks``: the cookbooks a stack uses, where each came from and what needs it; and
``vendor``, a copy of them in one directory. Neither touches a host."""

from __future__ import annotations

from pathlib import Path

from runner.api.base import SessionBase
from runner.api.reports import CookbookListReport, CookbookRow, VendorReport
from runner.cookbooks import CookbookSet, split_recipe
from runner.cookbooks.vendor import vendor
from runner.cookbooks.versions import source_of
from runner.errors import UserError


def load(session: SessionBase) -> CookbookSet:
    """The stack's cookbooks, first match wins along ``stack.cookbooks``."""
    return CookbookSet.from_sources(list(session.stack.cookbooks))


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
    report = CookbookListReport(session.stack.name)
    for book in sorted(cookbooks, key=lambda b: b.name):
        report.cookbooks.append(CookbookRow(
            name=book.name, version=book.version, source=source_of(book), path=str(book.path),
            revision=None,  # filled from cookbooks.lock once the lock is there (issue 13's other half)
            dependents=sorted(c.name for c in cookbooks.dependents(book.name)),
            layers=layers.get(book.name, []),
            shadowed=[f"{c.version} in {source_of(c)}" for c in cookbooks.candidates(book.name)[1:]],
        ))
    return report


def vendor_cookbooks(session: SessionBase, directory: str | Path, *, force: bool = False) -> VendorReport:
    cookbooks = load(session)
    files = vendor(sorted(cookbooks, key=lambda b: b.name), directory, force=force)
    return VendorReport(session.stack.name, str(Path(directory).absolute()), files)
