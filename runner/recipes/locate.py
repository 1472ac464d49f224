"""Point errors at the line of the recipe that caused them."""

from __future__ import annotations

import sys
from collections.abc import Container
from types import TracebackType

from runner.errors import Location, UserError


def caller_location(recipe_files: Container[str]) -> Location | None:
    """The innermost frame of the current stack that runs code of a recipe file."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename in recipe_files:
            return Location.of(frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


def traceback_location(tb: TracebackType | None, recipe_files: Container[str]) -> Location | None:
    """The innermost traceback entry that is in a recipe file (where the recipe went wrong)."""
    found = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in recipe_files:
            found = Location.of(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def recipe_error(exc: Exception, recipe_files: Container[str], fallback: Location) -> UserError:
    """``NameError: name 'x' is not defined`` at the recipe line that raised it."""
    where = traceback_location(exc.__traceback__, recipe_files) or fallback
    return UserError(f"{exception_name(exc)}: {exc}", where)


def exit_error(exc: SystemExit, recipe_files: Container[str], fallback: Location) -> UserError:
    """``sys.exit()``/``exit()``/``raise SystemExit`` in a recipe, at the recipe line that called it.

    Left alone, it would end runner with the exit code the recipe chose and nothing done.
    """
    where = traceback_location(exc.__traceback__, recipe_files) or fallback
    return UserError(f"SystemExit: the recipe called exit (code {exc.code!r})", where)


def exception_name(exc: BaseException) -> str:
    """The class name a recipe author knows: our own lookup errors show as the builtin they extend."""
    kind = type(exc)
    if kind.__module__.startswith("runner."):
        kind = next(base for base in kind.__mro__ if base.__module__ == "builtins")
    return kind.__name__
