"""Compile each recipe file once per process (per modification), and note its literal includes."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

from runner.cookbooks.validate import include_calls
from runner.errors import Location, UserError


@dataclass(frozen=True)
class CompiledRecipe:
    code: CodeType
    includes: tuple[str, ...]  # names of the literal include_recipe("...") calls, in file order


_cache: dict[str, tuple[int, int, CompiledRecipe]] = {}
_lock = threading.Lock()


def load_recipe(path: Path) -> CompiledRecipe:
    """The compiled recipe at ``path``, from the cache unless the file changed (mtime or size).

    :raises UserError: the file cannot be read or is not valid Python (at its line and column).
    """
    key = str(path)
    try:
        stat = os.stat(key)
    except OSError as exc:
        raise UserError(f"cannot read recipe: {exc.strerror}", Location.of(path)) from None
    with _lock:
        cached = _cache.get(key)
    if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
        return cached[2]
    compiled = _compile(path)
    with _lock:
        _cache[key] = (stat.st_mtime_ns, stat.st_size, compiled)
    return compiled


def _compile(path: Path) -> CompiledRecipe:
    includes = tuple(name for name, _ in include_calls(path))  # also reports syntax errors, located
    try:
        source = path.read_bytes()
        code = compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:  # include_calls parsed it, so rarely reached (e.g. a changed file)
        where = Location.of(path, exc.lineno or 0, exc.offset or 0)
        raise UserError(f"invalid Python in recipe: {exc.msg}", where) from None
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read recipe: {exc}", Location.of(path)) from None
    return CompiledRecipe(code, includes)
