"""The cookbooks a stack can use, found along its ``cookbooks`` search path."""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.cookbooks.cookbook import Cookbook, is_cookbook_dir, load_cookbook
from runner.cookbooks.versions import check_versions
from runner.errors import Location, UserError, UserErrors
from runner.model.cookbook_sources import entry_label
from runner.model.fields import suggest
from runner.model.stack import CookbookSource
from runner.secrets.reveal import Revealer

_REF = re.compile(r"^([A-Za-z0-9_-]+)(?:::([A-Za-z0-9_-]+))?$")


@dataclass(frozen=True)
class RecipeRef:
    """A resolved recipe: its cookbook, its short name and its file."""

    cookbook: Cookbook
    recipe: str
    path: Path

    @property
    def name(self) -> str:
        """The full name, ``cookbook::recipe``."""
        return f"{self.cookbook.name}::{self.recipe}"


def split_recipe(ref: str) -> tuple[str, str]:
    """``"cb"`` -> ``("cb", "default")``, ``"cb::r"`` -> ``("cb", "r")``.

    :raises UserError: not of either form.
    """
    match = _REF.match(ref)
    if not match:
        raise UserError(f"invalid recipe name '{ref}'", hint="write 'cookbook' or 'cookbook::recipe'")
    return match.group(1), match.group(2) or "default"


class CookbookSet:
    """Cookbooks by name; the first one found for a name wins (like a PATH)."""

    def __init__(self, cookbooks: Iterable[Cookbook] = ()):
        self._cookbooks: dict[str, Cookbook] = {}
        self._found: dict[str, list[Cookbook]] = {}  # every one of each name, in search order
        for cookbook in cookbooks:
            self._cookbooks.setdefault(cookbook.name, cookbook)
            self._found.setdefault(cookbook.name, []).append(cookbook)

    @classmethod
    def from_sources(cls, sources: Sequence[CookbookSource], reveal: Revealer | None = None) -> CookbookSet:
        """Load every cookbook under each source directory, in order (``reveal``: see :func:`load_cookbook`).

        :raises UserErrors: a source directory is missing, or a cookbook's
            metadata or attributes are broken (all such problems).
        """
        errors: list[UserError] = []
        found: list[Cookbook] = []
        for source in sources:
            if not source.path.is_dir():
                errors.append(UserError(f"cookbook directory '{source.path}' does not exist", source.location))
                continue
            seen: dict[str, Path] = {}
            for child in sorted(source.path.iterdir()):
                if not is_cookbook_dir(child):
                    continue
                try:
                    cookbook = load_cookbook(child, reveal)
                except UserErrors as exc:
                    errors.extend(exc.errors)
                    continue
                if cookbook.name in seen:
                    where = Location.of(cookbook.metadata_path or child)
                    message = f"cookbook '{cookbook.name}' is also defined in {seen[cookbook.name]}"
                    errors.append(UserError(message, where))
                    continue
                seen[cookbook.name] = child
                found.append(dataclasses.replace(cookbook, source=entry_label(source)))
        if errors:
            raise UserErrors(errors)
        return cls(found)

    def __contains__(self, name: object) -> bool:
        return name in self._cookbooks

    def __getitem__(self, name: str) -> Cookbook:
        return self._cookbooks[name]

    def __iter__(self) -> Iterator[Cookbook]:
        return iter(self._cookbooks.values())

    def __len__(self) -> int:
        return len(self._cookbooks)

    @property
    def names(self) -> list[str]:
        return list(self._cookbooks)

    def get(self, name: str) -> Cookbook | None:
        return self._cookbooks.get(name)

    def candidates(self, name: str) -> list[Cookbook]:
        """Every cookbook called ``name`` along the search path, in order: the one used first, then
        those it shadows."""
        return list(self._found.get(name, ()))

    def dependents(self, name: str) -> list[Cookbook]:
        """The cookbooks whose metadata ``depends`` on ``name`` (its reverse dependencies)."""
        return [c for c in self if name in c.depends]

    def resolve_recipe(self, ref: str, location: Location | None = None) -> RecipeRef:
        """Find the file of ``"cb"`` / ``"cb::recipe"``.

        :raises UserError: (at ``location``) unknown cookbook or recipe, with a suggestion.
        """
        try:
            book_name, recipe = split_recipe(ref)
        except UserError as exc:
            raise UserError(exc.message, location, exc.hint) from None
        cookbook = self._cookbooks.get(book_name)
        if cookbook is None:
            hint = suggest(book_name, self._cookbooks) or (
                "no cookbooks found: check stack.cookbooks" if not self._cookbooks else None
            )
            raise UserError(f"unknown cookbook '{book_name}'", location, hint)
        if recipe not in cookbook.recipes:
            full = [f"{book_name}::{r}" for r in cookbook.recipes]
            close = difflib.get_close_matches(recipe, list(cookbook.recipes), n=1)
            hint = f"did you mean '{book_name}::{close[0]}'?" if close else None
            if hint is None:
                hint = f"cookbook '{book_name}' has: {', '.join(full)}" if full else "it has no recipes"
            raise UserError(f"unknown recipe '{book_name}::{recipe}'", location, hint)
        return RecipeRef(cookbook, recipe, cookbook.recipes[recipe])

    def check_depends(self, used_by: Mapping[str, str] | None = None) -> list[UserError]:
        """Errors for every metadata ``depends`` entry naming a cookbook that is not here, or one whose
        found version the constraint does not accept (see :mod:`runner.cookbooks.versions`).

        :param used_by: the cookbooks the stack uses directly, each with why (``"run list of layer
            app"``): the messages then name the chain from the stack to the dependency.
        """
        errors = []
        for cookbook in self:
            for dep in cookbook.dependencies:
                if dep.name in self._cookbooks:
                    continue
                others = [n for n in self._cookbooks if n != cookbook.name]
                message = f"cookbook '{cookbook.name}' depends on unknown cookbook '{dep.name}'"
                errors.append(UserError(message, dep.location, suggest(dep.name, others)))
        return errors + check_versions(self._cookbooks, self._found, used_by or {})
