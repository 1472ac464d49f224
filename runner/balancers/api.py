"""What a load balancer is: the base class plugins implement, and the server states it reports.

A balancer runs on the instances of one layer (``lb``) and sends traffic to a
backend (pool) whose servers are named by *instance name*. Deployment
strategies take servers out of rotation (:meth:`LoadBalancer.drain`), deploy
to them, and put them back (:meth:`LoadBalancer.enable`). Plugins add
balancers through the ``runner_load_balancers`` hook. The settings an app
gives its balancer, :class:`BalancerSettings`, are a model type
(:mod:`runner.model.stack`), re-exported here for balancer plugins.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from runner.errors import RunnerError
from runner.model.stack import BalancerSettings

if TYPE_CHECKING:
    from runner.ssh.api import Transport as Connection

READY = "ready"
DRAIN = "drain"
MAINT = "maint"
#: admin states from best to worst; when lb instances disagree, the worst wins
ADMIN_STATES: tuple[str, ...] = (READY, DRAIN, MAINT)


class BalancerError(RunnerError):
    """A balancer command failed; the message names the lb instance and quotes what it said."""

    def __init__(self, message: str, host: str | None = None):
        super().__init__(f"load balancer on {host}: {message}" if host else message)
        self.host = host  # the lb instance, when one is to blame


@dataclass(frozen=True)
class ServerStatus:
    """One server of the backend as every lb instance sees it together."""

    name: str  # the instance name
    admin: str  # READY | DRAIN | MAINT (the worst over the lb instances)
    up: bool | None = None  # up by health check on every lb instance; None: not known
    sessions: int = 0  # current sessions, summed over the lb instances


def worst(states: Sequence[str]) -> str:
    """The worst of some admin states (MAINT over DRAIN over READY)."""
    return max(states, key=ADMIN_STATES.index) if states else MAINT


class LoadBalancer(abc.ABC):
    """Base class of load balancers; :attr:`name` is what ``load_balancer.type`` says.

    Built with the app's :class:`BalancerSettings` and open SSH connections to
    every lb instance, keyed by instance name. The caller owns nothing after
    that: :meth:`close` (or leaving a ``with`` block) closes the connections.
    Every method acts on every lb instance and raises :class:`BalancerError`
    when one fails.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, settings: BalancerSettings, connections: dict[str, Connection]) -> None:
        self.settings = settings
        self.connections = dict(connections)

    @abc.abstractmethod
    def drain(self, servers: Sequence[str], timeout: float = 30.0) -> None:
        """Take servers (app instance names) out of rotation on every lb instance.

        Waits (at most ``timeout`` seconds) until their in-flight sessions end;
        after it returns they get no traffic.
        """

    @abc.abstractmethod
    def enable(self, servers: Sequence[str]) -> None:
        """Put servers back into rotation on every lb instance."""

    @abc.abstractmethod
    def states(self) -> dict[str, str]:
        """Server -> READY | DRAIN | MAINT, as every lb instance agrees (the worst when they disagree)."""

    def enable_command(self, servers: Sequence[str]) -> str | None:
        """A shell command that, run on an lb instance, does what :meth:`enable` does: what a person
        pastes when a run could not put servers back. None: the balancer has none to offer."""
        return None

    def server_status(self) -> dict[str, ServerStatus]:
        """Server -> its admin state plus health and sessions where the balancer knows them."""
        return {name: ServerStatus(name, admin) for name, admin in self.states().items()}

    def close(self) -> None:
        """Close the connections to the lb instances."""
        for connection in self.connections.values():
            connection.close()

    def __enter__(self) -> LoadBalancer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
