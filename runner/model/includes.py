"""Read a stack file and the files it includes, in merge order.

A stack file may say ``include: [common.yml, layers/web.yml]``. An included
file holds ``layers``, ``instances``, ``apps`` and a top-level ``custom_json``
(and may include further files); its paths are relative to itself. The result
is the list of documents lowest precedence first (an include's own includes
before it, earlier includes before later ones, the including file last), so a
plain "later wins" merge gives "the including file wins".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runner.errors import UserError, UserErrors
from runner.model.fields import Checker, Invalid
from runner.model.yamlsource import Document, load_yaml

SECTIONS: tuple[str, ...] = ("layers", "instances", "apps")
MAIN_KEYS: tuple[str, ...] = ("stack", *SECTIONS, "include")
INCLUDED_KEYS: tuple[str, ...] = (*SECTIONS, "custom_json", "include")


@dataclass(frozen=True)
class Part:
    """One file of the stack: its document, and whether it is the main stack file."""

    doc: Document
    main: bool

    @property
    def data(self) -> dict:
        return self.doc.data if isinstance(self.doc.data, dict) else {}


def read_parts(path: str | Path, errors: list[UserError]) -> list[Part]:
    """Every file of the stack, lowest precedence first; problems go to ``errors``."""
    real = Path(path).expanduser().resolve()
    reader = _Reader(real.parent, errors)
    reader.read(str(path), Path(path).expanduser(), [real], main=True)
    return reader.parts


class _Reader:
    def __init__(self, root: Path, errors: list[UserError]):
        self.root = root
        self.errors = errors
        self.parts: list[Part] = []

    def read(self, display: str, file: Path, chain: list[Path], main: bool) -> None:
        try:
            doc = load_yaml(file, display)
        except UserErrors as exc:
            self.errors.extend(exc.errors)
            return
        except UserError as exc:
            self.errors.append(exc)
            return
        if doc.data is None:
            doc = Document(doc.path, {}, doc.values, doc.keys)
        check = Checker(doc, self.errors)
        try:
            check.mapping((), doc.data, MAIN_KEYS if main else INCLUDED_KEYS)
        except Invalid:
            return
        for i, entry in enumerate(check.get(doc.data, ("include",), check.strings, ())):
            self._include(check, display, file, chain, i, entry)
        self.parts.append(Part(doc, main))

    def _include(self, check: Checker, display: str, file: Path, chain: list[Path], i: int, entry: str) -> None:
        target = Path(entry).expanduser()
        if not target.is_absolute():
            target = file.parent / target
        real = target.resolve()
        if real in chain:
            names = " -> ".join(self._short(p) for p in [*chain, real])
            check.report(f"include cycle: {names}", check.at(("include", i)))
            return
        if not real.is_file():
            check.report(f"included file '{entry}' does not exist", check.at(("include", i)))
            return
        shown = os.path.normpath(os.path.join(os.path.dirname(display), os.path.expanduser(entry)))
        self.read(shown, target, [*chain, real], main=False)

    def _short(self, path: Path) -> str:
        """A path as the chain shows it: relative to the main stack file's directory."""
        try:
            return os.path.relpath(path, self.root)
        except ValueError:  # another drive on Windows
            return str(path)
