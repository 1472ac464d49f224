"""``runner watch``: what the OpsWorks service did, as a loop on the controller.

Every ``interval`` a pass:

1. asks the provider for every instance's state (one call), and reads every
   online one with one SSH command over a connection kept open between passes
   (runner.watch.sampler): alive, load, CPU busy %, memory used %;
2. turns both into OpsWorks statuses (an online instance SSH cannot reach is
   connection_lost) and logs each change it sees;
3. asks the policies (schedule, load, healing; the first to act on an instance
   wins) what to do, and does it through the same lifecycle as ``runner
   instances start|stop``: shutdown recipes before a stop; after a heal or a
   start, setup on it (as OpsWorks runs setup on every boot: packages, setup
   recipes, a deploy of its apps) and then configure on every online
   instance; after a stop, or when the set of answering instances
   changed, a configure on the online ones;
4. saves what it decided in the stack's state dir (``watch.json``) and appends
   every decision to the events log (``events.jsonl``), and calls the
   ``runner_instance_changed`` hook for each.

Only one watch runs per stack (runner.watch.lock). A KeyboardInterrupt (Ctrl-C,
or SIGTERM turned into one by the command line) stops it: a run under way is
interrupted the way a converge is (no half-written file on any host), the
state of the pass is saved, the lock released.
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from runner.api import runs, setup_record
from runner.api.base import SessionBase
from runner.api.instance_status import shown
from runner.api.reports import LifecycleReport, WatchReport
from runner.errors import RunnerError, UserError
from runner.events import InstanceChange
from runner.model.lifecycle import CONFIGURE, SETUP, SHUTDOWN
from runner.providers.api import (
    CONNECTION_LOST,
    ONLINE,
    SETUP_FAILED,
    START_FAILED,
    STOPPED,
    InstanceState,
    start_instances,
)
from runner.ssh.target import resolve_target
from runner.watch import eventlog
from runner.watch.healing import DEFAULT_MAX_ATTEMPTS, HealingPolicy
from runner.watch.load import LoadPolicy
from runner.watch.lock import WatchLock
from runner.watch.sampler import Sampler
from runner.watch.schedule import SchedulePolicy
from runner.watch.state import HealEntry, WatchState
from runner.watch.types import GIVE_UP, HEAL, START, STOP, WANT_RUNNING, WANT_STOPPED, Action, Policy, WatchView

DEFAULT_INTERVAL = 30.0  # seconds: the OpsWorks agent's keepalive
STACK = "*"  # the instance of an event about the stack (a configure of every online instance)


def iso(epoch: float) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.UTC).isoformat(timespec="seconds")


class _WatchedSession(SessionBase):
    """The session's stack and plugins, with the instances the pass could not reach taken out of every run.

    A converge or configure started by the watch then neither waits for them
    nor shows them to recipes as online (a balancer drops them as backends).
    """

    def __init__(self, session: SessionBase, unreachable: set[str]):
        super().__init__(session.stack, session.registry, session.on_event, parallel=session.parallel,
                         verbose=session.verbose)
        self.unreachable = unreachable

    def states(self) -> list[InstanceState]:
        return [InstanceState(s.name, CONNECTION_LOST, None, s.details) if s.name in self.unreachable else s
                for s in super().states()]


class Watcher:
    """One stack's watch: its sampler, policies and state; :meth:`run` loops, :meth:`one_pass` does one pass."""

    def __init__(self, session: SessionBase, *, interval: float = DEFAULT_INTERVAL,
                 max_heal_attempts: int = DEFAULT_MAX_ATTEMPTS, policies: Sequence[Policy] | None = None,
                 clock: Callable[[], float] = time.time):
        if interval <= 0:
            raise UserError(f"--interval must be more than 0 seconds, got {interval:g}")
        if max_heal_attempts < 1:
            raise UserError(f"--max-heal-attempts must be 1 or more, got {max_heal_attempts}")
        self.session = session
        self.stack = session.stack
        self.interval = interval
        self.policies: list[Policy] = list(policies) if policies is not None else [
            SchedulePolicy(), LoadPolicy(), HealingPolicy(max_heal_attempts)]
        self.clock = clock
        self.state = WatchState(self.stack.state_dir, self.stack.name)
        self.sampler = Sampler(session.parallel)
        self.report = WatchReport(self.stack.name)
        self._provider = session.provider()
        self._statuses: dict[str, str] | None = None  # what the last pass saw

    # -- the loop ------------------------------------------------------------------

    def run(self, *, once: bool = False, duration: float | None = None,
            stop: threading.Event | None = None) -> WatchReport:
        """Passes every ``interval`` until ``stop`` is set, ``duration`` seconds are over, or after one (``once``)."""
        stop = stop or threading.Event()
        lock = WatchLock(self.stack.state_dir, self.stack.name).acquire()
        ends = None if duration is None else time.monotonic() + duration
        in_pass = False
        try:
            while True:
                began = time.monotonic()
                in_pass = True
                self.one_pass()
                in_pass = False
                if once or stop.is_set():
                    break
                wait = self.interval - (time.monotonic() - began)
                if ends is not None:
                    if time.monotonic() + max(wait, 0.0) >= ends:
                        stop.wait(max(0.0, ends - time.monotonic()))
                        break
                if wait > 0 and stop.wait(wait):
                    break
        except KeyboardInterrupt:  # between passes a clean stop; in one, what was under way was cut off
            self.report.interrupted = in_pass
        finally:
            self.sampler.close()
            lock.release()
        return self.report

    # -- one pass ------------------------------------------------------------------

    def one_pass(self) -> None:
        now = self.clock()
        saved = self.state.read()
        heal = dict(saved.heal)
        memory = dict(saved.memory)
        wanted_changes: dict[str, str] = {}
        online_after: set[str] | None = None
        self.report.passes += 1
        try:
            try:
                states = self._provider.status(list(self.stack.instances))
            except RunnerError as exc:
                self.report.errors.append(f"pass {self.report.passes}: the provider did not answer: {exc}")
                return
            statuses, samples = self._observe(states, now, heal)
            if self._statuses is None:
                self._statuses = dict(memory.get("statuses", {})) if isinstance(memory.get("statuses"), dict) else {}
            self._log_observed(statuses, samples, states)
            view = WatchView(self.stack, now, statuses, {n: s for n, s in samples.items() if s.alive},
                             dict(saved.wanted), memory, heal, self._provider.can_heal)
            actions = self._decide(view)
            online_after = self._act(actions, statuses, view, wanted_changes, saved.online)
        finally:
            if self._statuses is not None:  # also when interrupted: the next watch logs what changed since
                memory["statuses"] = dict(self._statuses)
            # a pass that did not finish leaves who is online as the last finished one left it (none: unknown)
            self.state.save_pass(heal, memory, online_after, wanted_changes)

    def _observe(self, states: list[InstanceState], now: float,
                 heal: dict[str, HealEntry]) -> tuple[dict[str, str], dict[str, Any]]:
        targets = {s.name: resolve_target(self.stack, s.host) for s in states if s.online and s.host}
        samples = self.sampler.sample(targets, now)
        entries = setup_record.for_stack(self.stack).entries()
        statuses: dict[str, str] = {}
        self._reasons: dict[str, str] = {}
        for state in states:
            sample = samples.get(state.name)
            lost = sample is not None and not sample.alive
            view = shown(state, entries.get(state.name), ssh_cause=(sample.cause or "ssh") if lost else None,
                         ssh_error=sample.error if lost else None)
            status = view.status
            if status != ONLINE and heal.get(state.name, HealEntry()).start_failed and not state.online:
                status = START_FAILED
            statuses[state.name] = status
            self._reasons[state.name] = view.reason or (
                f"the {self.stack.provider} provider says {view.provider_status}")
        return statuses, samples

    def _decide(self, view: WatchView) -> list[Action]:
        chosen: dict[str, Action] = {}
        for policy in self.policies:
            for action in policy.decide(view):
                chosen.setdefault(action.instance, action)
        return list(chosen.values())

    # -- what a pass does ----------------------------------------------------------

    def _change(self, instance: str, action: str, before: str, after: str, why: str) -> None:
        change = InstanceChange(iso(self.clock()), self.stack.name, instance, action, before, after, why)
        eventlog.append(self.stack.state_dir, change)
        self.report.changes.append(change)
        self.session.emit(change)
        self.session.registry.notify("runner_instance_changed", change=change)

    def _log_observed(self, statuses: dict[str, str], samples: dict[str, Any], states: list[InstanceState]) -> None:
        assert self._statuses is not None
        for name, status in statuses.items():
            before = self._statuses.get(name)
            if before is not None and before != status:
                self._change(name, "observed", before, status, self._reasons.get(name, ""))
            self._statuses[name] = status

    def _set(self, name: str, status: str) -> None:
        assert self._statuses is not None
        self._statuses[name] = status

    def _act(self, actions: list[Action], statuses: dict[str, str], view: WatchView,
             wanted_changes: dict[str, str], online_before: list[str] | None) -> set[str]:
        by_kind: dict[str, list[Action]] = {}
        for action in actions:
            by_kind.setdefault(action.kind, []).append(action)
        unreachable = {n for n, s in statuses.items() if s == CONNECTION_LOST}
        session = _WatchedSession(self.session, unreachable)
        online = {n for n, s in statuses.items() if s == ONLINE}
        brought_up: list[str] = []

        for action in by_kind.get(STOP, []):
            name = action.instance
            wanted_changes[name] = WANT_STOPPED
            if name in online:
                self._run(runs.run_recipes(session, SHUTDOWN, [name]))
            try:
                self._provider.stop([name])
            except RunnerError as exc:
                self._change(name, "stop", statuses[name], statuses[name], f"{action.why}; the stop failed: {exc}")
                continue
            online.discard(name)
            self._change(name, "stop", statuses[name], STOPPED, action.why)
            self._set(name, STOPPED)

        for action in by_kind.get(GIVE_UP, []):
            self._change(action.instance, "give_up", statuses[action.instance], START_FAILED, action.why)
            self._set(action.instance, START_FAILED)

        def bring_up(action: Action) -> tuple[Action, str | None]:
            try:
                if action.kind == HEAL:
                    self._provider.heal([action.instance])
                else:
                    start_instances(self._provider, [action.instance])
            except RunnerError as exc:
                return action, str(exc)
            return action, None

        # back after a watch was stopped between bringing them up and setting them up: set up now
        stopping = {a.instance for a in by_kind.get(STOP, [])}
        brought_up += [n for n, e in view.heal.items() if e.setup_pending and statuses.get(n) in (ONLINE, SETUP_FAILED)
                       and n not in stopping]
        online.update(brought_up)
        ups = by_kind.get(HEAL, []) + by_kind.get(START, [])
        for action in ups:  # the intent is saved first: a watch stopped in the middle still sets it up next time
            view.heal[action.instance] = replace(view.heal.get(action.instance, HealEntry()), setup_pending=True)
            if action.kind == START:
                wanted_changes[action.instance] = WANT_RUNNING
        if ups:
            with ThreadPoolExecutor(max_workers=min(8, len(ups))) as pool:
                results = list(pool.map(bring_up, ups))
            for action, error in results:
                name = action.instance
                if error is None:
                    brought_up.append(name)
                    online.add(name)
                    unreachable.discard(name)
                    self._change(name, action.kind, statuses[name], ONLINE, action.why)
                    self._set(name, ONLINE)
                else:
                    view.heal[name] = replace(view.heal[name], error=error, setup_pending=False)
                    if action.kind == START:
                        view.heal.pop(name)
                    self._change(name, action.kind, statuses[name], statuses[name],
                                 f"{action.why}; it failed: {error}")

        topology_changed = online_before is not None and set(online_before) != online
        if brought_up:
            # as OpsWorks does on every start: setup (it ends with a deploy of the apps), then configure everywhere
            setup = self._run(runs.run_recipes(session, SETUP, self._in_order(set(brought_up))))
            failed = setup.failures()
            online -= set(failed)
            configure = self._run(runs.run_recipes(session, CONFIGURE, self._in_order(online)))
            failed.update(configure.failures())
            self._change(STACK, "converge", "", "", f"setup on {', '.join(self._in_order(set(brought_up)))}, "
                         f"then configure on {', '.join(self._in_order(online))}"
                         + ("" if not failed else f"; failed on {', '.join(sorted(failed))}"))
            for name in brought_up:  # done with: a failed setup shows as setup_failed, it is not healed again
                if name in failed:
                    online.discard(name)
                self._set(name, SETUP_FAILED if name in setup.failures() else ONLINE)
                view.heal.pop(name, None)
        elif online and (by_kind.get(STOP) or topology_changed):
            left = sorted(set(online_before or ()) - online)
            came = sorted(online - set(online_before or ()))
            why = "; ".join(part for part in (f"{', '.join(left)} left" if left else "",
                                              f"{', '.join(came)} came back" if came else "") if part)
            report = self._run(runs.run_recipes(session, CONFIGURE, self._in_order(online)))
            self._change(STACK, "configure", "", "", f"configure on {', '.join(self._in_order(online))}"
                         + (f" ({why})" if why else "")
                         + ("" if report.ok else f"; failed on {', '.join(report.failures())}"))
        return online

    def _in_order(self, names: set[str]) -> list[str]:
        return [n for n in self.stack.instances if n in names]

    def _run(self, report: LifecycleReport) -> LifecycleReport:
        self.report.runs.append(report)
        return report


def watch(session: SessionBase, *, interval: float = DEFAULT_INTERVAL, once: bool = False,
          duration: float | None = None, max_heal_attempts: int = DEFAULT_MAX_ATTEMPTS,
          stop: threading.Event | None = None) -> WatchReport:
    """Watch the stack (see the module's docstring); returns when stopped, after ``duration``, or one pass."""
    if duration is not None and duration <= 0:
        raise UserError(f"--for must be more than 0 seconds, got {duration:g}")
    watcher = Watcher(session, interval=interval, max_heal_attempts=max_heal_attempts)
    return watcher.run(once=once, duration=duration, stop=stop)
