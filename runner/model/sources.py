"""Check an app's ``source:`` against the declaration of its type.

The model does not know the source types: a plugin declares each one (its
keys, their types, whether it can be fetched on the hosts) and the loader is
handed the declarations by name, the way validation is handed the known
providers. Until then an :class:`AppSource` holds its ``type`` and its raw
keys with where they were written (:class:`runner.model.yamlsource.Located`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from runner.model.fields import Checker, Invalid
from runner.model.stack import AppSource
from runner.model.yamlsource import KeyPath

FETCH_MODES: tuple[str, ...] = ("local", "remote")
#: the value types a source key can declare, and the check that reads each
KEY_TYPES: tuple[str, ...] = ("string", "scalar", "path", "integer", "number", "boolean", "strings", "mapping")


@dataclass(frozen=True)
class SourceKey:
    """One key a source type accepts besides ``type`` and ``fetch``.

    ``type`` is one of :data:`KEY_TYPES`: ``scalar`` is a string or a number
    read as a string (``revision: 1234``); ``path`` is relative to the file it
    is written in. ``default`` (when not None) fills the key in when absent.
    """

    name: str
    type: str = "string"
    required: bool = False
    default: Any = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in KEY_TYPES:
            raise ValueError(f"source key {self.name!r}: type {self.type!r} is not one of {', '.join(KEY_TYPES)}")


@dataclass(frozen=True)
class SourceProblem:
    """A problem a source type's own check found: at ``key`` (its value), or at the ``source`` key when None."""

    key: str | None
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class SourceDeclaration:
    """What a source type accepts; made by :meth:`runner.sources.api.AppSourceType.declaration`."""

    name: str
    keys: tuple[SourceKey, ...] = ()
    remote_fetch: bool = False
    #: the message for ``fetch: remote`` when the type does not support it (a default one when empty)
    no_remote_reason: str = ""
    #: combinations of keys the type refuses; gets the raw keys (without ``type``)
    check: Callable[[Mapping[str, Any]], Iterable[SourceProblem]] | None = field(default=None, compare=False)


def check_app_source(check: Checker, path: KeyPath, source: AppSource,
                     declarations: Mapping[str, SourceDeclaration]) -> AppSource | None:
    """``source`` with its keys checked and read against its type's declaration; None when unusable (reported)."""
    try:
        return _checked(check, path, source, declarations)
    except Invalid:
        return None


def _checked(check: Checker, path: KeyPath, source: AppSource,
             declarations: Mapping[str, SourceDeclaration]) -> AppSource:
    if not declarations:
        raise check.fail(path + ("type",), f"unknown app source type '{source.type}'",
                         "no app source plugin is loaded")
    before = len(check.errors)
    kind = check.choice(path + ("type",), source.type, list(declarations), "app source type")
    declaration = declarations[kind]
    raw = dict(source.options)
    keys = {key.name: key for key in declaration.keys}
    required = [key.name for key in declaration.keys if key.required]
    check.mapping(path, {"type": kind, **raw}, ["type", *keys, "fetch"], required=required)
    options: dict[str, Any] = {}
    for name, key in keys.items():
        found = check.get(raw, path + (name,), _reader(check, key.type))
        if found is not None:
            options[name] = found
        elif name not in raw and key.default is not None:
            options[name] = key.default
    fetch = check.get(raw, path + ("fetch",), lambda p, v: check.choice(p, v, FETCH_MODES, "fetch mode"))
    if fetch is not None:
        options["fetch"] = fetch
    for problem in declaration.check(raw) if declaration.check else ():
        if problem.key is None:
            check.fail(path, problem.message, problem.hint, at_key=True)
        else:
            check.fail(path + (problem.key,), problem.message, problem.hint)
    if fetch == "remote" and not declaration.remote_fetch:
        reason = declaration.no_remote_reason or f"source type '{kind}' does not support 'fetch: remote'"
        raise check.fail(path + ("fetch",), reason)
    if len(check.errors) > before:  # unknown or missing keys, bad values, refused combinations
        raise Invalid()
    return replace(source, options=options)


def _reader(check: Checker, kind: str) -> Callable[[KeyPath, Any], Any]:
    return {
        "string": check.string,
        "scalar": check.scalar_string,
        "path": check.file_path,
        "integer": check.integer,
        "number": check.number,
        "boolean": check.boolean,
        "strings": check.strings,
        "mapping": check.free_mapping,
    }[kind]
