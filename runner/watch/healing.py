"""Auto-healing, as OpsWorks does it: an instance that should run and has not answered for a while is brought back.

An instance is healed only when every one of its layers has ``auto_healing`` on,
its wanted state is running (one stopped with ``runner instances stop`` or by a
schedule stays stopped) and its provider can heal (registered machines cannot:
they are only reported lost). It counts as failed when the provider says it is
stopped, missing, terminated or failed to stop (stopped outside runner), or
when it runs and SSH cannot reach it (connection_lost). After the layers'
``after`` (300 s unless set) without an answer it is healed; after
``max_attempts`` heals that did not bring it back it is marked start_failed and
left alone until someone starts it.
"""

from __future__ import annotations

from dataclasses import replace

from runner.providers.api import (
    CONNECTION_LOST,
    MISSING,
    ONLINE,
    RUNNING_SETUP,
    SETUP_FAILED,
    START_FAILED,
    STOP_FAILED,
    STOPPED,
    TERMINATED,
)
from runner.watch.scaling import span, status_of, wanted_state
from runner.watch.state import HealEntry
from runner.watch.types import GIVE_UP, HEAL, WANT_RUNNING, Action, WatchView

#: statuses of an instance that should run and does not: stopped outside runner, or unreachable
FAILED: frozenset[str] = frozenset({STOPPED, MISSING, TERMINATED, STOP_FAILED, CONNECTION_LOST, START_FAILED})
DEFAULT_MAX_ATTEMPTS = 3
#: statuses of an instance that answers and whose setup the watch still owes it
SETTING_UP: frozenset[str] = frozenset({ONLINE, RUNNING_SETUP, SETUP_FAILED})


def healing_after(view: WatchView, instance: str) -> float | None:
    """Seconds without an answer after which ``instance`` is healed, or None when healing is off for it.

    Every layer must have it on; the longest ``after`` of its layers wins.
    """
    layers = [view.stack.layers[name] for name in view.stack.instances[instance].layers]
    if not layers or not all(layer.auto_healing for layer in layers):
        return None
    return max(layer.auto_healing_after for layer in layers)


class HealingPolicy:
    """HEAL failed instances after their ``after``; GIVE_UP after ``max_attempts``. Keeps ``view.heal``."""

    name = "healing"

    def __init__(self, max_attempts: int = DEFAULT_MAX_ATTEMPTS):
        if max_attempts < 1:
            raise ValueError("max_attempts must be 1 or more")
        self.max_attempts = max_attempts

    def decide(self, view: WatchView) -> list[Action]:
        actions = []
        for name in view.stack.instances:
            action = self._one(view, name)
            if action is not None:
                actions.append(action)
        for gone in set(view.heal) - set(view.stack.instances):
            del view.heal[gone]
        return actions

    def _one(self, view: WatchView, name: str) -> Action | None:
        entry: HealEntry = view.heal.get(name, HealEntry())
        status = status_of(view, name)
        if entry.start_failed:
            return None  # left alone until `runner instances start` (which forgets the entry)
        if entry.setup_pending and status in SETTING_UP:
            return None  # back, and its setup is still to run (or was cut): the loop runs it, forgets the entry
        if status == ONLINE or wanted_state(view, name) != WANT_RUNNING or status not in FAILED:
            view.heal.pop(name, None)  # answering, meant to be down, or on its way somewhere: nothing to heal
            return None
        after = healing_after(view, name)
        if after is None or not view.provider_heals:
            view.heal.pop(name, None)
            return None
        since = entry.since if entry.since is not None else view.now
        entry = view.heal[name] = replace(entry, since=since)
        down = view.now - since
        if down < after:
            return None
        if entry.attempts >= self.max_attempts:
            why = (f"{entry.attempts} heal attempts did not bring it back"
                   + (f" (last: {entry.error})" if entry.error else "") + "; left alone until it is started")
            view.heal[name] = replace(entry, start_failed=True, setup_pending=False)
            return Action(GIVE_UP, name, why, self.name)
        view.heal[name] = replace(entry, attempts=entry.attempts + 1)
        why = (f"auto-healing: {status} for {span(round(down))} (after {span(after)}), "
               f"attempt {entry.attempts + 1} of {self.max_attempts}")
        return Action(HEAL, name, why, self.name)
