"""What a deployment strategy is: the order in which a change reaches an app's hosts.

A strategy gets a :class:`Rollout` (the hosts, the settings, and operations
that each act on a batch of hosts in parallel) and decides the batches, when
to take hosts out of the load balancer and put them back, when to check
health and when to stop and undo. The same strategy drives ``runner deploy``
(the change is "move to the new release") and ``runner rollback`` (the change
is "go back one release"), unless it overrides :meth:`Strategy.rollback`.

A third-party strategy is a subclass registered through the
``runner_strategies`` hook::

    class Canary(Strategy):
        name = "canary"
        description = "one host first, then all the others"
        needs_whole_fleet = True    # one canary per app, not one per --shard

        def deploy(self, rollout):
            first, rest = rollout.hosts[:1], rollout.hosts[1:]
            for batch in (first, rest):
                if not rollout.step(batch):
                    return
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from runner.model.stack import DeploySettings


class Rollout(Protocol):
    """The operations a strategy combines. Each takes a batch of host (instance) names, runs on
    them in parallel and returns the hosts for which it failed; a failed host is never touched
    again by later operations of the run."""

    #: the app's hosts that take part, in stack order (unreachable ones are already left out)
    hosts: list[str]
    #: the app's deploy settings, with the command line's overrides applied
    settings: DeploySettings
    #: "deploy" or "rollback"
    command: str

    @property
    def has_balancer(self) -> bool: ...

    def change(self, batch: Sequence[str]) -> list[str]:
        """Move the hosts to the new release (deploy) or one release back (rollback).

        The app's health check runs on each host right after its restart, in the same remote command;
        a host that fails it is put back and counts among the hosts returned."""

    def health_check(self, batch: Sequence[str]) -> list[str]:
        """Run the app's health check on the hosts (with its timeout and retries); no check: all pass.
        A host whose :meth:`change` ran it already is not checked again (it passed)."""

    def revert(self, batch: Sequence[str]) -> None:
        """Undo :meth:`change` on the hosts: ``current`` goes back to where it was, the app restarts."""

    def drain(self, batch: Sequence[str]) -> list[str]:
        """Take the hosts out of the load balancer and wait for their requests to finish (no balancer: no-op)."""

    def enable(self, batch: Sequence[str]) -> list[str]:
        """Put the hosts back into the load balancer (no balancer: no-op)."""

    def balancer_states(self) -> dict[str, str]:
        """Each host's state in the balancer: 'ready', 'drain' or 'maint' ({} without a balancer)."""

    def step(self, batch: Sequence[str], undo_batch: bool = True, label: str | None = None,
             balancer: bool = True) -> bool:
        """The usual batch: drain, change, health check, enable (drain and enable only with ``balancer``).

        A host whose change or health check fails is put back where it was.
        A batch with ``undo_batch`` false and no balancer is final: its hosts
        also drop old releases (keep_releases) and log the run in their change's
        last command (a later :meth:`revert` still puts them back, and logs that).
        When the run's failures exceed ``settings.max_failures``, the rest of
        the batch is put back too (unless ``undo_batch`` is false) and False
        is returned: the strategy should stop. The balancer failing (a drain,
        or an enable that leaves the batch out) also returns False, whatever
        ``max_failures`` says: draining the next batch could leave it no server.
        """

    def stop(self, reason: str) -> None:
        """Stop the run: the hosts not reached yet are reported as skipped, with ``reason``."""

    def say(self, message: str) -> None:
        """Print a progress line."""

    def record(self, label: str, seconds: float) -> None:
        """Add a timing to the run's report (e.g. how long a balancer switch took)."""


class Strategy(abc.ABC):
    """Base class of deployment strategies; :attr:`name` is what ``deploy.strategy`` says."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: whether the strategy cannot work without a load balancer (blue/green)
    needs_balancer: ClassVar[bool] = False
    #: whether the strategy takes hosts out of the balancer at all; when False the balancer is not
    #: opened (an unreachable lb instance does not stop the run) and ``rollout.has_balancer`` is False
    uses_balancer: ClassVar[bool] = True
    #: whether the strategy orders the change across all of the app's hosts in one run (batches that
    #: wait for each other, max_failures counted over the app, colours switched in the balancer): then
    #: ``--shard`` is refused, since N runs on N parts of the fleet would each order only their part
    needs_whole_fleet: ClassVar[bool] = False

    @abc.abstractmethod
    def deploy(self, rollout: Rollout) -> None:
        """Bring the new release to ``rollout.hosts`` by calling the rollout's operations."""

    def rollback(self, rollout: Rollout) -> None:
        """Go one release back on ``rollout.hosts``; by default in the same order as a deploy."""
        self.deploy(rollout)


def batch_size(batch: int | str, hosts: int) -> int:
    """How many hosts a batch holds: a count, or a percentage of ``hosts`` rounded up (at least 1)."""
    if isinstance(batch, str) and batch.endswith("%"):
        return max(1, math.ceil(hosts * int(batch[:-1]) / 100))
    return max(1, int(batch))


def batches(hosts: Sequence[str], batch: int | str) -> list[list[str]]:
    size = batch_size(batch, len(hosts))
    return [list(hosts[i:i + size]) for i in range(0, len(hosts), size)]
