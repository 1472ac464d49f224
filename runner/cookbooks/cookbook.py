"""One cookbook on disk: metadata, default attributes, recipes, templates, files.

```
<name>/metadata.yml            optional: name (default: the directory), version, depends
<name>/attributes/default.yml  optional: a mapping of default attributes
<name>/recipes/*.py            one recipe per file; default.py is the cookbook's own name
<name>/templates/, files/      looked up by name when a recipe uses them
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.errors import Location, UserError, UserErrors
from runner.model.fields import Checker
from runner.model.yamlsource import Document, load_yaml

METADATA_KEYS: tuple[str, ...] = ("name", "version", "depends", "description", "maintainer", "license")


@dataclass(frozen=True)
class Cookbook:
    name: str
    path: Path
    version: str = "0.0.0"
    depends: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    recipes: dict[str, Path] = field(default_factory=dict)  # recipe name -> file
    metadata_path: Path | None = None
    depends_locations: tuple[Location, ...] = field(default=(), repr=False, compare=False)

    @property
    def templates_dir(self) -> Path | None:
        found = self.path / "templates"
        return found if found.is_dir() else None

    @property
    def files_dir(self) -> Path | None:
        found = self.path / "files"
        return found if found.is_dir() else None

    def template(self, name: str) -> Path | None:
        """The template file ``name`` (relative to templates/), if it exists."""
        return _inside(self.templates_dir, name)

    def file(self, name: str) -> Path | None:
        """The static file ``name`` (relative to files/), if it exists."""
        return _inside(self.files_dir, name)


def _inside(directory: Path | None, name: str) -> Path | None:
    if directory is None:
        return None
    candidate = (directory / name).resolve()
    if directory.resolve() not in candidate.parents or not candidate.is_file():
        return None  # missing, or "../" escaping the cookbook
    return candidate


def is_cookbook_dir(path: Path) -> bool:
    """A directory that looks like a cookbook: it has metadata.yml or recipes/."""
    if not path.is_dir() or path.name.startswith((".", "_")):
        return False
    return (path / "metadata.yml").is_file() or (path / "recipes").is_dir()


def load_cookbook(directory: str | Path) -> Cookbook:
    """Read a cookbook directory.

    :raises UserErrors: bad metadata.yml or attributes/default.yml (every problem, located).
    """
    path = Path(directory)
    errors: list[UserError] = []
    meta_file = path / "metadata.yml"
    name, version, depends, locations = path.name, "0.0.0", (), ()
    if meta_file.is_file():
        doc = _load(meta_file, errors)
        if doc is not None:
            name, version, depends, locations = _metadata(doc, path.name, errors)
    attributes = _attributes(path / "attributes" / "default.yml", errors)
    if errors:
        raise UserErrors(errors)
    recipes_dir = path / "recipes"
    recipes = (
        {f.stem: f for f in sorted(recipes_dir.glob("*.py")) if not f.name.startswith("_")}
        if recipes_dir.is_dir()
        else {}
    )
    return Cookbook(
        name=name,
        path=path,
        version=version,
        depends=depends,
        attributes=attributes,
        recipes=recipes,
        metadata_path=meta_file if meta_file.is_file() else None,
        depends_locations=locations,
    )


def _load(file: Path, errors: list[UserError]) -> Document | None:
    try:
        return load_yaml(file)
    except UserErrors as exc:
        errors.extend(exc.errors)
    except UserError as exc:
        errors.append(exc)
    return None


def _metadata(
    doc: Document, default_name: str, errors: list[UserError]
) -> tuple[str, str, tuple[str, ...], tuple[Location, ...]]:
    check = Checker(doc, errors)
    raw = check.attempt(check.mapping, (), doc.data, METADATA_KEYS, (), True, default={})
    name = check.get(raw, ("name",), check.string, default_name)
    version = check.get(raw, ("version",), check.scalar_string, "0.0.0")
    check.get(raw, ("depends",), check.strings)  # reports what is not a list of names
    items = raw.get("depends") if isinstance(raw.get("depends"), list) else []
    found = [(dep, check.at(("depends", i))) for i, dep in enumerate(items) if isinstance(dep, str) and dep]
    depends = tuple(dep for dep, _ in found)
    locations = tuple(location for _, location in found)
    return name, version, depends, locations


def _attributes(file: Path, errors: list[UserError]) -> dict[str, Any]:
    if not file.is_file():
        return {}
    doc = _load(file, errors)
    if doc is None or doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        Checker(doc, errors).report("attributes must be a mapping", doc.value_at())
        return {}
    return doc.data
