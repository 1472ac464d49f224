"""Time-based instances: on in their schedule's UTC hours, stopped outside them (OpsWorks' time-based scaling)."""

from __future__ import annotations

from datetime import UTC, datetime

from runner.model.stack import SCALING_TIME, WEEKDAYS, Schedule
from runner.watch.scaling import ACTIVE, status_of, wanted_state
from runner.watch.types import START, STOP, WANT_RUNNING, Action, WatchView


class SchedulePolicy:
    """START a time-based instance in its on-hours, STOP it outside them, when it is not so already.

    A START or STOP is asked for once per instance and UTC hour (kept in ``view.memory``): one that
    did not take (the start failed, a user stopped the instance by hand) is asked for again the next hour.
    """

    name = "schedule"

    def decide(self, view: WatchView) -> list[Action]:
        memory = view.memory.setdefault(self.name, {})
        asked: dict[str, str] = memory.setdefault("asked", {})  # instance -> "start@2026-12-02T10"
        when = datetime.fromtimestamp(view.now, UTC)
        hour_mark = when.strftime("%Y-%m-%dT%H")
        actions = []
        for instance in view.stack.instances.values():
            if instance.scaling != SCALING_TIME or instance.schedule is None:
                continue
            kind = self._kind(view, instance.name, instance.schedule.is_on(when.weekday(), when.hour))
            if kind is None:
                asked.pop(instance.name, None)
                continue
            mark = f"{kind}@{hour_mark}"
            if asked.get(instance.name) == mark:
                continue
            asked[instance.name] = mark
            actions.append(Action(kind, instance.name, describe(instance.schedule, when), self.name))
        for gone in set(asked) - set(view.stack.instances):
            del asked[gone]
        return actions

    @staticmethod
    def _kind(view: WatchView, instance: str, on: bool) -> str | None:
        running = wanted_state(view, instance) == WANT_RUNNING
        if on and not running:
            return START
        if not on and (running or status_of(view, instance) in ACTIVE):
            return STOP
        return None


def describe(schedule: Schedule, when: datetime) -> str:
    """``schedule: Monday 09:00-10:00 UTC is on``: the run of on (or off) hours ``when`` falls in."""
    weekday = when.weekday()
    start, end = schedule.block(weekday, when.hour)
    state = "on" if schedule.is_on(weekday, when.hour) else "off"
    return f"schedule: {WEEKDAYS[weekday]} {start:02d}:00-{end:02d}:00 UTC is {state}"
