"""What a provider of hosts is: the base class every provider plugin implements.

A provider turns the instances of a stack into hosts that answer SSH: the
built-in ``static`` provider reads addresses from stack.yml, the ``docker``
provider (plugins/runner-docker) runs containers, an ``ec2`` provider would
start EC2 instances. The engine only ever sees :class:`HostAddress` values.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from runner.model.stack import Stack

ONLINE = "online"
STOPPED = "stopped"
MISSING = "missing"  # never created, or removed


@dataclass(frozen=True)
class HostAddress:
    """Where and how to reach one instance over SSH."""

    instance: str
    hostname: str
    address: str
    port: int | None = None  # None: the stack's ssh.port, ~/.ssh/config, 22
    user: str | None = None  # None: the stack's ssh.user
    key: Path | None = None  # None: the stack's ssh.key, the agent, ~/.ssh/config
    private_address: str | None = None  # how other instances reach it; None: same as address
    ports: dict[int, int] = field(default_factory=dict, hash=False)  # service port -> the port reaching it at address


@dataclass(frozen=True)
class InstanceState:
    """One instance as its provider sees it."""

    name: str
    status: str  # ONLINE | STOPPED | MISSING, or a provider's own word
    host: HostAddress | None = None  # set when status is ONLINE
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def online(self) -> bool:
        """Online and with an address to reach it at: what a run can connect to."""
        return self.status == ONLINE and self.host is not None


class Provider(abc.ABC):
    """Base class of providers.

    Subclasses set :attr:`name` (what ``stack.provider`` says) and implement
    :meth:`status`, :meth:`start` and :meth:`stop`. Every method takes the
    instance names to act on; ``None`` means every instance of the stack.
    Errors about the user's input raise :class:`runner.errors.UserError`.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def _names(self, names: Sequence[str] | None) -> list[str]:
        return list(self.stack.instances) if names is None else list(names)

    @abc.abstractmethod
    def status(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        """The state of the named instances, in the order asked."""

    @abc.abstractmethod
    def start(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        """Create (when missing) and start the named instances; idempotent."""

    @abc.abstractmethod
    def stop(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        """Stop the named instances; idempotent."""

    def destroy(self, names: Sequence[str] | None = None) -> None:
        """Remove the named instances for good. Default: stop them."""
        self.stop(names)

    def hosts(self, names: Sequence[str] | None = None) -> list[HostAddress]:
        """Addresses of the named instances that are online."""
        return [s.host for s in self.status(names) if s.online]
