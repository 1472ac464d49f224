"""One cookbook on disk: metadata, default attributes, recipes, templates, files.

```
<name>/metadata.yml            optional: name (default: the directory), version, depends
<name>/attributes/default.yml  optional: a mapping of default attributes
<name>/recipes/*.py            one recipe per file; default.py is the cookbook's own name
<name>/templates/, files/      looked up by name when a recipe uses them
```

``version`` is a PEP 440 version; ``depends`` a list of names (any version) or a
mapping of names to PEP 440 specifiers (``{haproxy: ">=1.2,<2", base: null}``),
both checked with ``packaging`` as the file is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from runner.errors import Location, UserError, UserErrors
from runner.model.fields import Checker
from runner.model.yamlsource import Document, describe, load_yaml
from runner.secrets.reveal import Revealer, reveal_attributes

METADATA_KEYS: tuple[str, ...] = ("name", "version", "depends", "description", "maintainer", "license")
DEFAULT_VERSION = "0.0.0"


@dataclass(frozen=True)
class Dependency:
    """One ``depends`` entry of metadata.yml: a cookbook name and the versions it accepts."""

    name: str
    constraint: str = ""  # PEP 440 specifiers as written ("" for any version), checked when read
    location: Location | None = field(default=None, compare=False)

    @property
    def specifier(self) -> SpecifierSet:
        return SpecifierSet(self.constraint)

    def accepts(self, version: str | Version) -> bool:
        """Whether ``version`` satisfies the constraint. A pre-release counts like any other version:
        a cookbook directory holds one version, so there is no final release to prefer to it."""
        return self.specifier.contains(Version(str(version)), prereleases=True)

    def __str__(self) -> str:
        return f"{self.name} {self.constraint}" if self.constraint else self.name


@dataclass(frozen=True)
class Cookbook:
    name: str
    path: Path
    version: str = DEFAULT_VERSION  # as written in metadata.yml; a valid PEP 440 version
    dependencies: tuple[Dependency, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    recipes: dict[str, Path] = field(default_factory=dict)  # recipe name -> file
    metadata_path: Path | None = None
    source: str | None = field(default=None, compare=False)  # the stack.cookbooks entry it was found in

    @property
    def depends(self) -> tuple[str, ...]:
        """The names of the cookbooks this one depends on, in metadata order."""
        return tuple(d.name for d in self.dependencies)

    @property
    def depends_locations(self) -> tuple[Location | None, ...]:
        return tuple(d.location for d in self.dependencies)

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


#: (directory, name) -> the resolved file found there: resolving a path costs a stat per part, once
#: per template of every host otherwise. A hit is checked to still be a file; misses are not kept.
_found: dict[tuple[Path, str], Path] = {}


def _inside(directory: Path | None, name: str) -> Path | None:
    if directory is None:
        return None
    candidate = _found.get((directory, name))
    if candidate is not None and candidate.is_file():
        return candidate
    candidate = (directory / name).resolve()
    if directory.resolve() not in candidate.parents or not candidate.is_file():
        _found.pop((directory, name), None)
        return None  # missing, or "../" escaping the cookbook
    _found[(directory, name)] = candidate
    return candidate


def is_cookbook_dir(path: Path) -> bool:
    """A directory that looks like a cookbook: it has metadata.yml or recipes/."""
    if not path.is_dir() or path.name.startswith((".", "_")):
        return False
    return (path / "metadata.yml").is_file() or (path / "recipes").is_dir()


def load_cookbook(directory: str | Path, reveal: Revealer | None = None) -> Cookbook:
    """Read a cookbook directory.

    :param reveal: decrypts the ``!encrypted`` values of its attributes; None leaves them
        :class:`runner.model.encrypted.Encrypted`.
    :raises UserErrors: bad metadata.yml or attributes/default.yml (every problem, located), or an
        attribute that cannot be decrypted.
    """
    path = Path(directory)
    errors: list[UserError] = []
    meta_file = path / "metadata.yml"
    name, version, dependencies = path.name, DEFAULT_VERSION, ()
    if meta_file.is_file():
        doc = _load(meta_file, errors)
        if doc is not None:
            name, version, dependencies = _metadata(doc, path.name, errors)
    attributes = _attributes(path / "attributes" / "default.yml", errors)
    if reveal is not None:
        attributes = reveal_attributes(attributes, reveal, errors)
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
        dependencies=dependencies,
        attributes=attributes,
        recipes=recipes,
        metadata_path=meta_file if meta_file.is_file() else None,
    )


def _load(file: Path, errors: list[UserError]) -> Document | None:
    try:
        return load_yaml(file)
    except UserErrors as exc:
        errors.extend(exc.errors)
    except UserError as exc:
        errors.append(exc)
    return None


def _metadata(doc: Document, default_name: str, errors: list[UserError]) -> tuple[str, str, tuple[Dependency, ...]]:
    check = Checker(doc, errors)
    raw = check.attempt(check.mapping, (), doc.data, METADATA_KEYS, (), True, default={})
    name = check.get(raw, ("name",), check.string, default_name)
    version = check.get(raw, ("version",), check.scalar_string, DEFAULT_VERSION)
    try:
        Version(version)
    except InvalidVersion:
        check.report(f"version: invalid version '{version}'", check.at(("version",)),
                     "write a PEP 440 version such as '1.2.0' (quoted when YAML would read it as a number)")
        version = DEFAULT_VERSION
    return name, version, _dependencies(check, raw.get("depends"))


def _dependencies(check: Checker, value: Any) -> tuple[Dependency, ...]:
    """``depends``: a list of names (any version) or a mapping of names to specifiers (null or "": any)."""
    if value is None:
        return ()
    if isinstance(value, list):
        check.attempt(check.strings, ("depends",), value)  # reports the items that are not names
        return tuple(Dependency(dep, location=check.at(("depends", i)))
                     for i, dep in enumerate(value) if isinstance(dep, str) and dep)
    if not isinstance(value, dict):
        check.report(f"depends: expected a list of cookbook names or a mapping of names to version "
                     f"constraints, got {describe(value)}", check.at(("depends",)))
        return ()
    found = []
    for dep, text in value.items():
        path = ("depends", dep)
        if text is None or text == "":
            found.append(Dependency(dep, location=check.key_at(path)))
            continue
        if not isinstance(text, str):
            check.report(f"depends.{dep}: expected a version constraint such as '>=1.2,<2' (quoted), "
                         f"got {describe(text)}", check.at(path), "null or '' means any version")
            continue
        try:
            SpecifierSet(text)
        except InvalidSpecifier:
            check.report(f"depends.{dep}: invalid version constraint '{text}'", check.at(path),
                         "write PEP 440 specifiers separated by commas, such as '>=1.2,<2' or '==1.4.*'")
            continue
        found.append(Dependency(dep, text.strip(), check.key_at(path)))
    return tuple(found)


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
