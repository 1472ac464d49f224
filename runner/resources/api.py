"""What a resource type is (the contract; the engine that drives it comes with converge).

A resource type is three parts (see ../shared/STYLE.md): a *probe* (a shell
snippet whose output tells the current state), a pure *diff* between that
state and the desired one, and an *apply* snippet that brings the host there.
Only the probe and apply snippets touch a host; everything else is pure and
unit-testable without one.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar


class Resource(abc.ABC):
    """Base class of resource types (``file``, ``package``, a plugin's ``cron`` ...).

    :attr:`type_name` is the DSL function name and the ``type`` in ``type[name]``.
    """

    type_name: ClassVar[str]
    actions: ClassVar[tuple[str, ...]] = ()
    default_action: ClassVar[str] = ""

    @abc.abstractmethod
    def probe(self) -> str:
        """A POSIX shell snippet that prints this resource's current state."""

    @abc.abstractmethod
    def diff(self, state: Any) -> list[str]:
        """What differs between ``state`` (parsed probe output) and the desired state."""

    @abc.abstractmethod
    def apply(self, state: Any) -> str:
        """A POSIX shell snippet that converges the host; idempotent."""
