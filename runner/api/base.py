"""What every run of a session shares: the stack, the registry, events, states, selection and the run hooks.

The modules that carry out runs (runs, deploys, status, instances) get a
:class:`SessionBase`; :class:`runner.api.session.Session` adds the public verbs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from difflib import get_close_matches
from typing import Any, Protocol

from runner.errors import UserError
from runner.events import Event, HostFinished, Progress, RunFinished, RunInfo, RunReport, RunStarted
from runner.model.shard import Shard, ShardSelection
from runner.model.stack import Stack
from runner.plugin.registry import Registry
from runner.providers.api import InstanceState, Provider
from runner.ssh.group import DEFAULT_PARALLEL

EventHandler = Callable[[Event], Any]


class Report(Protocol):
    """What every report of a run gives the run hooks."""

    @property
    def ok(self) -> bool: ...

    def host_results(self) -> list[Any]: ...

    def failures(self) -> dict[str, str]: ...


class SessionBase:
    """A stack and its plugins, and what every run on them shares."""

    def __init__(self, stack: Stack, registry: Registry, on_event: EventHandler | None = None, *,
                 parallel: int = DEFAULT_PARALLEL, verbose: int = 0, shard: Shard | None = None,
                 executor: str | None = None):
        if parallel < 1:
            raise UserError(f"parallel must be 1 or more, got {parallel}")
        self.stack, self.registry = stack, registry
        self.on_event = on_event
        self.parallel, self.verbose = parallel, verbose
        self.shard = shard
        #: what the shard picked in the last selection of a run (None without a shard)
        self.shard_selection: ShardSelection | None = None
        #: the URL of the executor recipe runs use (None: the local one); its scheme is checked now
        self.executor = executor
        if executor is not None:
            registry.executor(executor)
        self._announced: dict[RunInfo, set[str]] = {}  # per run under way: hosts whose HostFinished is out

    # -- what every run shares -------------------------------------------------------

    def emit(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def provider(self) -> Provider:
        return self.registry.provider(self.stack.provider)(self.stack)

    def states(self) -> list[InstanceState]:
        """Every instance's state, from the provider (one call; a run fetches them once)."""
        return self.provider().status(list(self.stack.instances))

    def select(self, instances: Sequence[str] | None = None, layers: Sequence[str] | None = None) -> list[str]:
        """Names of the instances chosen by name and by layer (all when neither is given), in stack order,
        then the session's shard of them (see :meth:`sharded`)."""
        return self.sharded(self.chosen(instances, layers))

    def sharded(self, names: Sequence[str]) -> list[str]:
        """The names in the session's shard (all of them without one), in their order.

        With a shard, remembers what it picked in :attr:`shard_selection` and says it in a
        Progress line (``shard 1/4: 13 of 50 instances``).
        """
        if self.shard is None:
            return list(names)
        picked = self.shard.pick(names)
        self.shard_selection = ShardSelection(self.shard, len(picked), len(names))
        self.emit(Progress(None, self.shard_selection.describe() + ("" if picked else ": nothing to do")))
        return picked

    def refuse_shard(self, what: str, why: str, hint: str) -> None:
        """A UserError when the session has a shard: ``what`` needs the whole fleet in one run, because ``why``."""
        if self.shard is not None:
            raise UserError(f"--shard {self.shard}: {what} cannot run on a shard: {why}", hint=hint)

    def chosen(self, instances: Sequence[str] | None = None, layers: Sequence[str] | None = None) -> list[str]:
        """Names of the instances chosen by name and by layer (all when neither is given), in stack order."""
        instances, layers = list(instances or []), list(layers or [])
        for name, table, kind in [(n, self.stack.layers, "layer") for n in layers] + [
                (n, self.stack.instances, "instance") for n in instances]:
            if name not in table:
                close = get_close_matches(name, list(table), n=1)
                raise UserError(f"--{kind} {name}: no {kind} {name!r} in {self.stack.path.name}",
                                hint=f"did you mean {close[0]!r}?" if close else None)
        return [inst.name for inst in self.stack.instances.values()
                if (not layers or any(layer in inst.layers for layer in layers))
                and (not instances or inst.name in instances)]

    def started(self, command: str, hosts: Sequence[str], app: str | None = None) -> RunInfo:
        """A run begins: its event and the ``runner_run_start`` hook."""
        info = RunInfo(command, self.stack.name, tuple(hosts), time.time())
        self.emit(RunStarted(command, self.stack.name, tuple(hosts), app))
        self.registry.notify("runner_run_start", run=info)
        return info

    def host_finished(self, info: RunInfo, host: str, ok: bool, summary: str) -> None:
        """One host of a run is done: its HostFinished now, while the other hosts go on.

        :meth:`finished` then leaves that host's HostFinished out (each host gets one).
        """
        self._announced.setdefault(info, set()).add(host)
        self.emit(HostFinished(host, ok, summary))

    def finished(self, info: RunInfo, report: Report, seconds: float,
                 host_lines: Mapping[str, str] | None = None) -> None:
        """A run ended: a HostFinished per host not announced yet, the failure hooks, ``runner_run_finish``,
        RunFinished."""
        failures = report.failures()
        results = report.host_results()
        announced = self._announced.pop(info, set())
        for result in results:
            ok = result.host not in failures
            if result.host not in announced:
                self.emit(HostFinished(result.host, ok, (host_lines or {}).get(result.host)
                                       or ("done" if ok else f"FAILED: {failures[result.host]}")))
            if not ok:
                self.registry.notify("runner_host_failed", host=result.host, error=failures[result.host],
                                     result=result)
        self.registry.notify("runner_run_finish", run=info, report=RunReport(info, tuple(results)))
        self.emit(RunFinished(info.command, report.ok, seconds))
