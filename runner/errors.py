"""The error hierarchy.

Every error the runner raises on purpose derives from :class:`RunnerError`.
A :class:`UserError` is the user's to fix (a bad stack file, a missing recipe,
an unknown plugin): the CLI prints it without a traceback and exits with 2.
Anything else that escapes is a bug: the CLI keeps its traceback and asks for
a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Location:
    """A place in a user's file: 1-based line and column (0 means unknown)."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line and self.column:
            return f"{self.path}:{self.line}:{self.column}"
        if self.line:
            return f"{self.path}:{self.line}"
        return self.path

    @classmethod
    def of(cls, path: str | Path, line: int = 0, column: int = 0) -> "Location":
        return cls(str(path), line, column)


class RunnerError(Exception):
    """Root of every error the runner raises on purpose."""


class UserError(RunnerError):
    """Bad input: printed as ``file:line:col: message`` (plus a hint), exit code 2."""

    exit_code = 2

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class UserErrors(UserError):
    """Several user errors found in one pass (validation reports them all at once)."""

    def __init__(self, errors: list[UserError]):
        if not errors:
            raise ValueError("UserErrors needs at least one error")
        super().__init__(errors[0].message, errors[0].location, errors[0].hint)
        self.errors = list(errors)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run on hosts, after every connection was closed.

    A KeyboardInterrupt still, so whatever handles Ctrl-C handles this; it
    adds the hosts that were cut off in the middle of applying changes.
    """

    def __init__(self, mid_apply: tuple[str, ...] = ()):
        super().__init__(", ".join(mid_apply))
        self.mid_apply = mid_apply


class HostError(RunnerError):
    """A failure on one host (connection refused, auth, timeout, changed host key, ...).

    Carries the host's name so a report can say which host failed and why while
    the other hosts go on.
    """

    def __init__(self, host: str, message: str, cause: str = "error"):
        super().__init__(f"{host}: {message}")
        self.host = host
        self.message = message
        self.cause = cause
