"""What a provider of hosts is: the base class every provider plugin implements.

A provider turns the instances of a stack into hosts that answer SSH: the
built-in ``static`` provider reads addresses from stack.yml, the ``docker``
provider (plugins/runner-docker) runs containers, an ``ec2`` provider would
start EC2 instances. The engine only ever sees :class:`HostAddress` values.
"""

from __future__ import annotations

import abc
import difflib
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from runner.errors import RunnerError, UserError
from runner.model.stack import SCALING_24_7, Instance, Stack

# OpsWorks' instance statuses, spelled as its API spells them. A provider reports what
# the machine is doing: REQUESTED, PENDING, BOOTING, ONLINE (running, with an address to
# reach it at), START_FAILED, STOPPING, STOP_FAILED, STOPPED, SHUTTING_DOWN, TERMINATED,
# or MISSING. The session adds what only a run can know: RUNNING_SETUP, SETUP_FAILED, and
# CONNECTION_LOST (the provider says running, SSH cannot reach it).
REQUESTED = "requested"
PENDING = "pending"
BOOTING = "booting"
RUNNING_SETUP = "running_setup"
ONLINE = "online"
SETUP_FAILED = "setup_failed"
START_FAILED = "start_failed"
STOPPING = "stopping"
STOP_FAILED = "stop_failed"
STOPPED = "stopped"
SHUTTING_DOWN = "shutting_down"
TERMINATED = "terminated"
CONNECTION_LOST = "connection_lost"
MISSING = "missing"  # ours, not OpsWorks': never created, or removed

#: How a provider heals an instance (:meth:`Provider.heal_mode`): stop then start it, keeping its
#: disk (an EBS-backed EC2 instance, a container), or destroy it and create it again with the same
#: name, hostname and layers (an instance-store-backed EC2 instance, whose disk does not survive).
HEAL_RESTART = "restart"
HEAL_REPLACE = "replace"
HEAL_MODES: tuple[str, ...] = (HEAL_RESTART, HEAL_REPLACE)

#: Every status word, in the order an instance meets them.
STATUSES: tuple[str, ...] = (
    MISSING, REQUESTED, PENDING, BOOTING, RUNNING_SETUP, ONLINE, SETUP_FAILED, START_FAILED,
    CONNECTION_LOST, STOPPING, STOP_FAILED, STOPPED, SHUTTING_DOWN, TERMINATED,
)


#: Statuses of an instance at rest: no machine runs it.
AT_REST: frozenset[str] = frozenset({STOPPED, MISSING, TERMINATED})


def off_by_design(instance: Instance, status: str) -> bool:
    """A time-based or load-based instance at rest: ``runner watch`` keeps it down, runs skip it quietly."""
    return instance.scaling != SCALING_24_7 and status in AT_REST


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
    #: The ``provider_options`` keys this provider takes and the types each may have; None
    #: takes anything unchecked. Checked by :meth:`check_options` when the stack is validated.
    option_types: ClassVar[Mapping[str, tuple[type, ...]] | None] = None
    #: Whether :meth:`heal` may stop, destroy and start this provider's instances (``runner watch``'s
    #: auto healing); False for machines the provider does not own.
    can_heal: ClassVar[bool] = True

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    @classmethod
    def check_options(cls, stack: Stack) -> list[UserError]:
        """Every problem in the stack's ``provider_options`` (stack, layers, instances), located.

        Called by ``runner validate`` and :meth:`runner.api.Session.open`, before any host is
        touched. The default checks keys and types against :attr:`option_types` and each value
        with :meth:`check_option`; override either for more.
        """
        if cls.option_types is None:
            return []
        errors: list[UserError] = []
        for path, options in stack.provider_option_places():
            for key, value in options.items():
                where = stack.where(*path, key)
                if key not in cls.option_types:
                    close = difflib.get_close_matches(key, list(cls.option_types), n=1)
                    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(cls.option_types)}"
                    errors.append(UserError(f"unknown {cls.name} provider option {key!r}", where, hint=hint))
                    continue
                types = cls.option_types[key]
                if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
                    wanted = " or ".join(_type_word(t) for t in types)
                    errors.append(UserError(
                        f"provider option {key!r} must be {wanted}, not {_type_word(type(value))}", where))
                    continue
                problem = cls.check_option(key, value)
                if problem:
                    errors.append(UserError(f"provider option {key!r}: {problem}", where))
        return errors

    @classmethod
    def check_option(cls, key: str, value: Any) -> str | None:
        """What is wrong with one option's value (its type already checked), or None."""
        return None

    def options_for(self, instance: str) -> dict[str, Any]:
        """The instance's provider options: its own over its layers' over the stack's."""
        return self.stack.provider_options_for(instance)

    def _names(self, names: Sequence[str] | None) -> list[str]:
        return list(self.stack.instances) if names is None else list(names)

    @abc.abstractmethod
    def status(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        """The state of the named instances, in the order asked."""

    @abc.abstractmethod
    def start(self, names: Sequence[str] | None = None, *, wait_for_ssh: bool = True) -> list[InstanceState]:
        """Create (when missing) and start the named instances; idempotent.

        ``wait_for_ssh=False`` (``runner instances start --no-lifecycle``): return once the
        machine runs, without waiting for sshd. A provider may leave the keyword out of its
        signature; callers go through :func:`start_instances`, which passes it only when taken.
        """

    @abc.abstractmethod
    def stop(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        """Stop the named instances; idempotent."""

    def destroy(self, names: Sequence[str] | None = None) -> None:
        """Remove the named instances for good. Default: stop them."""
        self.stop(names)

    def hosts(self, names: Sequence[str] | None = None) -> list[HostAddress]:
        """Addresses of the named instances that are online."""
        return [s.host for s in self.status(names) if s.online]

    def heal_mode(self, instance: str) -> str:
        """How :meth:`heal` brings this instance back: :data:`HEAL_RESTART` (the default) or :data:`HEAL_REPLACE`.

        restart = stop then start: the same machine comes back, with its disk (an EBS-backed
        instance, a container). replace = destroy then create again with the same name,
        hostname and layers: a new machine with a fresh disk (an instance-store-backed one,
        which cannot be stopped).
        """
        return HEAL_RESTART

    def heal(self, names: Sequence[str], *, wait_for_ssh: bool = True) -> list[InstanceState]:
        """Bring failed instances back, each by its :meth:`heal_mode`; their states, in the order of ``names``.

        The default stops the ``restart`` ones, destroys the ``replace`` ones, then starts them all
        (:func:`start_instances`, with ``wait_for_ssh``). Setting them up again is the caller's job
        (a replaced instance is new). Refused with a :class:`UserError` when :attr:`can_heal` is False.
        """
        wanted = list(names)
        if not self.can_heal:
            raise UserError(f"the {self.name} provider cannot heal instances: it does not own the machines",
                            hint="turn auto_healing off for their layers")
        if not wanted:
            return []
        modes = {name: self.heal_mode(name) for name in wanted}
        unknown = sorted({mode for mode in modes.values() if mode not in HEAL_MODES})
        if unknown:
            raise RunnerError(f"the {self.name} provider's heal_mode gave {', '.join(map(repr, unknown))}; "
                              f"expected one of {', '.join(HEAL_MODES)}")
        restart = [name for name in wanted if modes[name] == HEAL_RESTART]
        replace = [name for name in wanted if modes[name] == HEAL_REPLACE]
        if restart:
            self.stop(restart)
        if replace:
            self.destroy(replace)
        by_name = {state.name: state for state in start_instances(self, wanted, wait_for_ssh=wait_for_ssh)}
        return [by_name[name] for name in wanted if name in by_name]


def start_instances(provider: Provider, names: Sequence[str] | None = None, *,
                    wait_for_ssh: bool = True) -> list[InstanceState]:
    """``provider.start(names)``, with ``wait_for_ssh`` when its ``start`` takes that keyword (older ones do not)."""
    if "wait_for_ssh" in inspect.signature(provider.start).parameters:
        return provider.start(names, wait_for_ssh=wait_for_ssh)
    return provider.start(names)


def _type_word(kind: type) -> str:
    return {str: "a string", int: "an integer", bool: "a boolean (true or false)", float: "a number",
            list: "a list", dict: "a mapping"}.get(kind, f"a {kind.__name__}")
