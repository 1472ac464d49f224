"""Load YAML into plain Python values while remembering where every value came from.

``yaml.safe_load`` forgets positions, so an error found later ("unknown layer
'ap'") could not point at the user's file. Here the document is composed into
nodes with the safe loader and converted by hand; on the way every key path
(a tuple of mapping keys and list indexes, ``("layers", "app", "recipes",
"setup", 0)``) gets the :class:`Location` of its value node and, for mapping
entries, of its key.

A scalar tagged ``!encrypted`` becomes an :class:`Encrypted` (its armored
text and location); nothing here decrypts it.

This module knows nothing about the stack schema: it is reused for
metadata.yml and attribute files.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from runner.errors import Location, UserError, UserErrors
from runner.model.encrypted import TAG as ENCRYPTED_TAG
from runner.model.encrypted import Encrypted

KeyPath = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Document:
    """A loaded YAML document: its data plus the locations of every key path."""

    path: str
    data: Any
    values: dict[KeyPath, Location] = field(default_factory=dict, repr=False)
    keys: dict[KeyPath, Location] = field(default_factory=dict, repr=False)
    #: the key paths whose values were written ``!encrypted`` (their data may hold the plaintext by now)
    encrypted: frozenset[KeyPath] = field(default=frozenset(), repr=False)

    def value_at(self, *path: str | int) -> Location:
        """Location of the value at ``path``, or of the nearest enclosing value."""
        return _nearest(self.values, tuple(path), Location(self.path, 1, 1))

    def key_at(self, *path: str | int) -> Location:
        """Location of the key of the mapping entry at ``path``; its value's when it has no key."""
        key = tuple(path)
        if key in self.keys:
            return self.keys[key]
        return self.value_at(*path)


@dataclass(frozen=True)
class Located:
    """A value of a document together with its key path: what a later check needs for file:line:col."""

    document: Document
    path: KeyPath


def _nearest(marks: dict[KeyPath, Location], key: KeyPath, default: Location) -> Location:
    while key:
        if key in marks:
            return marks[key]
        key = key[:-1]
    return marks.get((), default)


def load_yaml(path: str | Path, display: str | None = None) -> Document:
    """Read and parse a YAML file; errors name ``display`` (default: ``path`` as given).

    :raises UserError: the file cannot be read or is not valid YAML.
    :raises UserErrors: duplicate or non-string mapping keys (all of them).
    """
    shown = display if display is not None else str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UserError(f"cannot read file: {reason}", Location(shown)) from None
    return parse_yaml(text, shown)


#: libyaml's safe loader when PyYAML was built with it: the same nodes and marks, several times faster
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> yaml.Node | None:
    """The document's node tree. A text libyaml rejects is parsed again by PyYAML's own parser, so
    an error reads (message and place) the same whether or not libyaml is there."""
    if _FAST_LOADER is not None:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


@contextlib.contextmanager
def _no_collection() -> Iterator[None]:
    """The cyclic garbage collector paused: building a tree of 10,000 instances makes millions of
    objects and no garbage cycles, and the collector's passes over them cost more than the parse."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_yaml(text: str, path: str, rewrite: Callable[[yaml.Node], yaml.Node] | None = None) -> Document:
    """Parse YAML text that came from ``path`` (used only in locations).

    ``rewrite`` may change the composed node tree before it is converted (the OpsWorks importer turns
    CloudFormation's short tags such as ``!Ref`` into their long form there, marks and all).
    """
    with _no_collection():
        return _parse(text, path, rewrite)


def _parse(text: str, path: str, rewrite: Callable[[yaml.Node], yaml.Node] | None = None) -> Document:
    try:
        root = _compose(text)
        if root is not None and rewrite is not None:
            root = rewrite(root)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, path) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every parser error carries a mark
        raise UserError(f"invalid YAML: {exc}", Location(path)) from None
    converter = _Converter(path)
    data = converter.convert(root, ()) if root is not None else None
    if converter.errors:
        unique = {(str(e), e.message): e for e in converter.errors}  # aliases convert a node twice
        raise UserErrors(list(unique.values()))
    return Document(path, data, converter.values, converter.keys)


def _mark(path: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(path)
    return Location(path, mark.line + 1, mark.column + 1)


def _yaml_error(exc: yaml.MarkedYAMLError, path: str) -> UserError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "cannot parse"
    hint = None
    if exc.context and problem.startswith("but "):  # "expected a single document ..., but found ..."
        problem = f"{exc.context}, {problem}"
    elif exc.context and exc.problem and exc.context_mark is not None:
        hint = f"{exc.context} at line {exc.context_mark.line + 1}"
    return UserError(f"invalid YAML: {problem}", _mark(path, mark), hint)


def describe(value: Any) -> str:
    """How a value reads in a message: ``string 'abc'``, ``integer 5``, ``null``, ``a list``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, Encrypted):
        return "an encrypted value"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"date {value.isoformat()}"
    return type(value).__name__


def describe_key(value: Any) -> str:
    """A short human description of a non-string key: ``integer 80``, ``null``, ``a list``."""
    if isinstance(value, yaml.SequenceNode):
        return "a list"
    if isinstance(value, yaml.MappingNode):
        return "a mapping"
    return describe(value)


class _Converter:
    """Turns composed nodes into dicts, lists and scalars, recording locations."""

    def __init__(self, path: str):
        self.path = path
        self.values: dict[KeyPath, Location] = {}
        self.keys: dict[KeyPath, Location] = {}
        self.errors: list[UserError] = []
        self._scalars = SafeConstructor()
        self._active: set[int] = set()

    def convert(self, node: yaml.Node, key: KeyPath) -> Any:
        self.values[key] = _mark(self.path, node.start_mark)
        if node.tag == ENCRYPTED_TAG:
            if isinstance(node, yaml.ScalarNode) and node.value.strip():
                return Encrypted(node.value, self.values[key])
            self.errors.append(UserError(f"{ENCRYPTED_TAG} needs the armored age text as a string",
                                         self.values[key], "write `key: !encrypted |` then the block"))
            return None
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if id(node) in self._active:
            self.errors.append(UserError("recursive YAML alias", self.values[key]))
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.convert(item, key + (i,)) for i, item in enumerate(node.value)]
            return self._mapping(node, key)
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            return self._scalars.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            self.errors.append(_yaml_error(exc, self.path))
            return None

    def _mapping(self, node: yaml.MappingNode, key: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: dict[str, yaml.Node] = {}
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.append(value_node)
                continue
            name = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else key_node
            where = _mark(self.path, key_node.start_mark)
            if not isinstance(name, str):
                self.errors.append(
                    UserError(f"mapping keys must be strings, got {describe_key(name)}", where)
                )
                continue
            if name in explicit:
                first = explicit[name].start_mark.line + 1
                self.errors.append(UserError(f"duplicate key '{name}' (first at line {first})", where))
                continue
            explicit[name] = key_node
            self.keys[key + (name,)] = where
            result[name] = self.convert(value_node, key + (name,))
        for value_node in merged:  # YAML merge keys ("<<: *base"): explicit keys win
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    where = _mark(self.path, source.start_mark)
                    self.errors.append(UserError("'<<' merge needs a mapping or a list of mappings", where))
                    continue
                scratch = self._scratch()
                adopted = set()
                for name, value in scratch._mapping(source, ()).items():
                    if name not in result:
                        result[name] = value
                        adopted.add(name)
                self._adopt(scratch, adopted, key)
        return result

    def _scratch(self) -> "_Converter":
        """A converter for a merged-in mapping: its own locations (to re-file), shared errors and aliases."""
        scratch = _Converter(self.path)
        scratch.errors = self.errors
        scratch._active = self._active
        return scratch

    def _adopt(self, scratch: "_Converter", names: set[str], key: KeyPath) -> None:
        """Re-file the locations of the merged-in entries ``names`` of ``scratch`` under ``key``.

        ``scratch`` holds only the merged mapping's locations, so the cost is its size, not the document's.
        """
        for mine, theirs in ((self.values, scratch.values), (self.keys, scratch.keys)):
            for path, where in theirs.items():
                if path and path[0] in names:
                    mine.setdefault(key + path, where)
