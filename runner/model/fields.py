"""Typed reads of raw YAML values that collect errors instead of stopping at the first.

A :class:`Checker` is bound to one :class:`Document` (so errors point into the
file the value came from) and appends every problem to a shared list. A check
that fails records a :class:`UserError` and raises :class:`Invalid`;
:meth:`Checker.get` turns that into "use the default", so the loader goes on
and reports everything wrong with a file in one pass.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from runner.errors import Location, UserError
from runner.model.yamlsource import Document, KeyPath, describe

T = TypeVar("T")

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$", re.IGNORECASE)


class Invalid(Exception):
    """Internal: the value was wrong and has been reported."""


def dotted(path: KeyPath) -> str:
    """``("layers", "app", "recipes", "setup", 0)`` -> ``layers.app.recipes.setup[0]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def suggest(word: str, choices: Iterable[str], list_all: bool = False) -> str | None:
    """A "did you mean" hint, or (``list_all``) the valid choices when nothing is close."""
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1)
    if not close:  # "fruits" vs "Fruits"
        folded = {o.lower(): o for o in options}
        close = difflib.get_close_matches(word.lower(), list(folded), n=1)
        close = [folded[c] for c in close]
    if close:
        return f"did you mean '{close[0]}'?"
    if list_all and options:
        return "expected one of: " + ", ".join(options)
    return None


class Checker:
    """Reads values out of one document, reporting problems into ``errors``."""

    def __init__(self, doc: Document, errors: list[UserError]):
        self.doc = doc
        self.errors = errors

    # -- locations and reporting -------------------------------------------
    def at(self, path: KeyPath) -> Location:
        return self.doc.value_at(*path)

    def key_at(self, path: KeyPath) -> Location:
        return self.doc.key_at(*path)

    def report(self, message: str, location: Location, hint: str | None = None) -> None:
        self.errors.append(UserError(message, location, hint))

    def fail(self, path: KeyPath, message: str, hint: str | None = None, at_key: bool = False) -> Invalid:
        """Report ``dotted(path): message`` and return :class:`Invalid` for the caller to raise."""
        where = self.key_at(path) if at_key else self.at(path)
        self.report(f"{dotted(path)}: {message}" if path else message, where, hint)
        return Invalid()

    def expected(self, path: KeyPath, what: str, value: Any) -> Invalid:
        return self.fail(path, f"expected {what}, got {describe(value)}")

    # -- reading -----------------------------------------------------------
    def attempt(self, check: Callable[..., T], *args: Any, default: Any = None) -> T | Any:
        """``check(*args)``, or ``default`` when it reported a problem."""
        try:
            return check(*args)
        except Invalid:
            return default

    def get(
        self, raw: dict[str, Any], path: KeyPath, check: Callable[[KeyPath, Any], T], default: Any = None
    ) -> T | Any:
        """``check`` the entry ``path[-1]`` of ``raw``; the default when absent or invalid."""
        key = path[-1]
        if key not in raw:
            return default
        try:
            return check(path, raw[key])
        except Invalid:
            return default

    def mapping(
        self,
        path: KeyPath,
        value: Any,
        allowed: Iterable[str] | None = None,
        required: Iterable[str] = (),
        allow_null: bool = False,
    ) -> dict[str, Any]:
        """A mapping whose keys are all in ``allowed`` (any when None) with every ``required`` key."""
        if value is None and allow_null:
            value = {}
        if not isinstance(value, dict):
            raise self.expected(path, "a mapping", value)
        if allowed is not None:
            known = list(allowed)
            for key in value:
                if key not in known:
                    where = self.key_at(path + (key,))
                    message = f"{dotted(path)}: unknown key '{key}'" if path else f"unknown top-level key '{key}'"
                    self.report(message, where, suggest(key, known))
        for key in required:
            if key not in value:
                where = self.key_at(path) if path else Location(self.doc.path, 1, 1)
                prefix = f"{dotted(path)}: " if path else ""
                self.report(f"{prefix}missing required key '{key}'", where)
        return value

    def free_mapping(self, path: KeyPath, value: Any) -> dict[str, Any]:
        """Any mapping (custom JSON, provider options); null reads as empty."""
        return self.mapping(path, value, allow_null=True)

    def string(self, path: KeyPath, value: Any) -> str:
        if not isinstance(value, str):
            raise self.expected(path, "a string", value)
        if not value:
            raise self.fail(path, "must not be empty")
        return value

    def scalar_string(self, path: KeyPath, value: Any) -> str:
        """A string, or a number YAML read as one (``revision: 1234``, ``version: 1.0``)."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return self.string(path, value)

    def integer(self, path: KeyPath, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.expected(path, "an integer", value)
        self._bounds(path, value, minimum, maximum)
        return value

    def number(self, path: KeyPath, value: Any, minimum: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.expected(path, "a number", value)
        if not math.isfinite(value):  # YAML reads .nan and .inf; no timeout or interval means them
            raise self.fail(path, f"must be a finite number, got {value}")
        self._bounds(path, value, minimum, None)
        return float(value)

    def _bounds(self, path: KeyPath, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            raise self.fail(path, f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.fail(path, f"must be at most {maximum}, got {value}")

    def boolean(self, path: KeyPath, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.expected(path, "a boolean (true or false)", value)
        return value

    def strings(self, path: KeyPath, value: Any) -> tuple[str, ...]:
        """A list of strings; bad items are reported one by one and left out."""
        if not isinstance(value, list):
            raise self.expected(path, "a list of strings", value)
        items = []
        for i, item in enumerate(value):
            try:
                items.append(self.string(path + (i,), item))
            except Invalid:
                pass
        return tuple(items)

    def choice(self, path: KeyPath, value: Any, choices: Iterable[str], what: str) -> str:
        """One of ``choices``; ``what`` names the kind in the message ("host key policy")."""
        text = self.string(path, value)
        options = list(choices)
        if text not in options:
            raise self.fail(path, f"unknown {what} '{text}'", suggest(text, options, list_all=True))
        return text

    def name(self, path: KeyPath, value: str, what: str) -> str:
        """A stack/layer/instance/app name: letters, digits, '_' and '-', starting with a letter or digit."""
        if not _NAME.match(value):
            raise self.fail(
                path,
                f"invalid {what} name '{value}'",
                "use letters, digits, '_' and '-', starting with a letter or digit",
                at_key=True,
            )
        return value

    def file_path(self, path: KeyPath, value: Any) -> Path:
        """A path; ``~`` expands, a relative one is relative to the file it is written in."""
        text = self.string(path, value)
        expanded = Path(text).expanduser()
        if not expanded.is_absolute():
            expanded = Path(self.doc.path).parent / expanded
        return Path(os.path.normpath(os.path.abspath(expanded)))
