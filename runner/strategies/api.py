"""What a deployment strategy is (the contract; deployments come with the deploy issue).

A strategy decides the order in which an app reaches its hosts: every host
at once, in rolling batches, or blue/green. It receives the hosts and a
callable that deploys to a batch, and returns per-host results.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, ClassVar


class Strategy(abc.ABC):
    """Base class of deployment strategies; :attr:`name` is what ``deploy.strategy`` says."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def run(self, hosts: Sequence[str], deploy_batch: Callable[[Sequence[str]], Any]) -> Any:
        """Deploy to ``hosts`` by calling ``deploy_batch`` on groups of them."""
