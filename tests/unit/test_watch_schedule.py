"""SchedulePolicy: START in a time-based instance's on-hours, STOP outside them, nothing when it is so already."""

from __future__ import annotations

import json

import pytest
from scaling_support import at, instance, stack, view, week

from runner.watch.schedule import SchedulePolicy
from runner.watch.types import START, STOP, WANT_RUNNING, WANT_STOPPED, Action

OFFICE = week(monday=range(8, 18), tuesday=range(8, 18))
STACK = stack([
    instance("web1"),  # 24/7
    instance("office", scaling="time", schedule=OFFICE),
    instance("extra", scaling="load"),
])


def decide(now, statuses, wanted=None, memory=None, stack_=STACK):
    return SchedulePolicy().decide(view(stack_, now, statuses, wanted, memory=memory))


def test_constructible_without_arguments_and_named():
    policy = SchedulePolicy()
    assert policy.name == "schedule"


def test_starts_a_stopped_instance_in_its_on_hours():
    actions = decide(at(0, 9, 30), {"web1": "online", "office": "stopped", "extra": "stopped"},
                     {"office": WANT_STOPPED, "extra": WANT_STOPPED})
    assert actions == [Action(START, "office", "schedule: Monday 08:00-18:00 UTC is on", "schedule")]


def test_starts_a_never_started_instance():
    assert [a.kind for a in decide(at(1, 8), {"office": "missing"})] == [START]


def test_stops_a_running_instance_outside_its_on_hours():
    actions = decide(at(0, 18), {"web1": "online", "office": "online"}, {"office": WANT_RUNNING})
    assert actions == [Action(STOP, "office", "schedule: Monday 18:00-24:00 UTC is off", "schedule")]


def test_stops_on_a_day_with_no_on_hours():
    actions = decide(at(2, 12), {"office": "online"})  # Wednesday; no record: online counts as meant to run
    assert actions == [Action(STOP, "office", "schedule: Wednesday 00:00-24:00 UTC is off", "schedule")]


@pytest.mark.parametrize("now, status, wanted", [
    (at(0, 9), "online", WANT_RUNNING),
    (at(0, 17, 59, 59), "online", WANT_RUNNING),
    (at(0, 9), "booting", WANT_RUNNING),  # on its way up: started already
    (at(0, 7, 59, 59), "stopped", WANT_STOPPED),
    (at(0, 18), "stopped", WANT_STOPPED),
    (at(3, 12), "missing", None),  # Thursday, never created
])
def test_nothing_when_the_instance_is_already_as_the_schedule_says(now, status, wanted):
    assert decide(now, {"office": status}, {"office": wanted} if wanted else {}) == []


def test_a_wanted_running_instance_that_is_stopped_is_left_to_healing_in_on_hours():
    assert decide(at(0, 10), {"office": "stopped"}, {"office": WANT_RUNNING}) == []


def test_an_instance_up_against_its_wanted_state_is_stopped_off_hours():
    assert [a.kind for a in decide(at(0, 20), {"office": "online"}, {"office": WANT_STOPPED})] == [STOP]


def test_sunday_monday_boundary():
    night = stack([instance("night", scaling="time", schedule=week(sunday=[23], monday=[0, 1]))])
    stopped = {"night": "stopped"}
    assert decide(at(6, 22, 59, 59), stopped, stack_=night) == []
    assert decide(at(6, 23), stopped, stack_=night)[0].why == "schedule: Sunday 23:00-24:00 UTC is on"
    assert decide(at(7, 0), stopped, stack_=night)[0].why == "schedule: Monday 00:00-02:00 UTC is on"
    running = ({"night": "online"}, {"night": WANT_RUNNING})
    assert decide(at(6, 23, 59, 59), *running, stack_=night) == []
    assert decide(at(7, 1, 59, 59), *running, stack_=night) == []
    assert decide(at(7, 2), *running, stack_=night)[0].why == "schedule: Monday 02:00-24:00 UTC is off"
    assert decide(at(0, 2), *running, stack_=night)[0].kind == STOP  # the Monday before the Sunday


def test_monday_only_hour_is_off_late_sunday():
    early = stack([instance("early", scaling="time", schedule=week(monday=[0]))])
    assert decide(at(6, 23, 59, 59), {"early": "stopped"}, stack_=early) == []
    assert [a.kind for a in decide(at(7, 0), {"early": "stopped"}, stack_=early)] == [START]


def test_asks_once_an_hour_while_the_instance_stays_otherwise():
    memory: dict = {}
    statuses, wanted = {"office": "stopped"}, {"office": WANT_STOPPED}
    assert len(decide(at(0, 9, 0), statuses, wanted, memory)) == 1
    assert decide(at(0, 9, 1), statuses, wanted, memory) == []  # the start did not take: not again this hour
    assert decide(at(0, 9, 59, 59), statuses, wanted, memory) == []
    assert [a.kind for a in decide(at(0, 10), statuses, wanted, memory)] == [START]
    json.dumps(memory)  # kept between passes: JSON-able


def test_acting_again_after_the_state_came_right_and_went_wrong():
    memory: dict = {}
    assert len(decide(at(0, 9, 0), {"office": "stopped"}, {"office": WANT_STOPPED}, memory)) == 1
    assert decide(at(0, 9, 5), {"office": "online"}, {"office": WANT_RUNNING}, memory) == []
    assert memory["schedule"]["asked"] == {}
    assert len(decide(at(0, 9, 10), {"office": "stopped"}, {"office": WANT_STOPPED}, memory)) == 1


def test_never_touches_24_7_or_load_instances():
    statuses = {"web1": "stopped", "office": "online", "extra": "online"}
    wanted = {"web1": WANT_STOPPED, "office": WANT_RUNNING, "extra": WANT_RUNNING}
    assert [a.instance for a in decide(at(0, 9), statuses, wanted)] == []
    assert [a.instance for a in decide(at(0, 20), statuses, wanted)] == ["office"]


def test_forgets_instances_no_longer_in_the_stack():
    memory = {"schedule": {"asked": {"gone": "start@2026-11-30T09"}}}
    decide(at(0, 9), {"office": "online"}, {"office": WANT_RUNNING}, memory)
    assert memory["schedule"]["asked"] == {}
