"""LoadPolicy: start a layer's stopped load-based instances when busy for long enough, stop them when idle."""

from __future__ import annotations

import json

from scaling_support import instance, stack, view, week

from runner.model.stack import LoadBased, ScalingThresholds
from runner.watch.load import LoadPolicy, below, exceeded, layer_averages
from runner.watch.types import START, STOP, WANT_RUNNING, WANT_STOPPED, Action, Sample

T0 = 1_800_000_000.0
UP = ScalingThresholds(instances=1, cpu=80, thresholds_wait_time=300, ignore_metrics_time=300)
DOWN = ScalingThresholds(instances=1, cpu=30, thresholds_wait_time=600, ignore_metrics_time=600)


def app_stack(up=UP, down=DOWN, enable=True, extra=()):
    return stack(
        [instance("web1"), instance("web2"), instance("l1", scaling="load"), instance("l2", scaling="load"),
         instance("office", scaling="time", schedule=week()), *extra],
        {"app": LoadBased(enable, up, down), "db": None},
    )


def cpu(name, value, now, **more):
    return Sample(name, now, True, cpu=value, **more)


class Fleet:
    """A pass-by-pass world: the statuses and wanted states the loop would keep, and the policy's memory."""

    def __init__(self, stack_=None, statuses=None, wanted=None):
        self.stack = stack_ or app_stack()
        self.statuses = statuses or {"web1": "online", "web2": "online", "l1": "stopped", "l2": "stopped",
                                     "office": "stopped"}
        self.wanted = wanted or {"web1": WANT_RUNNING, "web2": WANT_RUNNING, "l1": WANT_STOPPED,
                                 "l2": WANT_STOPPED, "office": WANT_STOPPED}
        self.memory: dict = {}
        self.policy = LoadPolicy()

    def online(self):
        return [n for n, s in self.statuses.items() if s == "online"]

    def pass_(self, now, cpu_of=None, samples=None):
        """One pass where each online instance reads ``cpu_of`` (a number, or name -> number)."""
        if samples is None:
            samples = [cpu(n, cpu_of if not isinstance(cpu_of, dict) else cpu_of[n], now) for n in self.online()]
        actions = self.policy.decide(view(self.stack, now, dict(self.statuses), dict(self.wanted), samples,
                                          self.memory))
        for action in actions:  # as the loop would carry them out
            self.statuses[action.instance] = "online" if action.kind == START else "stopped"
            self.wanted[action.instance] = WANT_RUNNING if action.kind == START else WANT_STOPPED
        json.dumps(self.memory)
        return actions

    def note(self, layer="app"):
        return self.memory["load"][layer].get("note")


def test_constructible_without_arguments_and_named():
    assert LoadPolicy().name == "load"


def test_exceeded_but_not_yet_for_the_wait_time_does_nothing():
    fleet = Fleet()
    assert fleet.pass_(T0, 90) == []
    assert fleet.note() == "layer app average cpu 90.0% > 80% for 0s of 5m"
    assert fleet.pass_(T0 + 299, 90) == []
    assert fleet.note() == "layer app average cpu 90.0% > 80% for 299s of 5m"


def test_after_the_wait_time_starts_one_stopped_load_instance():
    fleet = Fleet()
    fleet.pass_(T0, 90)
    assert fleet.pass_(T0 + 300, 95) == [
        Action(START, "l1", "load: layer app average cpu 95.0% > 80% for 5m", "load")]


def test_starts_the_count_of_instances():
    fleet = Fleet(app_stack(up=ScalingThresholds(instances=2, cpu=80, thresholds_wait_time=60)))
    fleet.pass_(T0, 90)
    assert [a.instance for a in fleet.pass_(T0 + 60, 90)] == ["l1", "l2"]


def test_a_dip_below_the_threshold_restarts_the_wait():
    fleet = Fleet()
    fleet.pass_(T0, 90)
    fleet.pass_(T0 + 200, 50)
    assert fleet.pass_(T0 + 250, 90) == []
    assert fleet.pass_(T0 + 500, 90) == []  # 250 s since it went up again
    assert [a.instance for a in fleet.pass_(T0 + 550, 90)] == ["l1"]


def test_metrics_are_ignored_after_acting_for_ignore_metrics_time():
    fleet = Fleet()
    fleet.pass_(T0, 90)
    assert len(fleet.pass_(T0 + 300, 90)) == 1
    assert fleet.pass_(T0 + 301, 99) == []
    assert fleet.note() == "metrics ignored after scaling (ignore_metrics_time)"
    assert fleet.pass_(T0 + 599, 99) == []
    assert fleet.pass_(T0 + 600, 99) == []  # ignoring is over: the wait starts afresh
    assert fleet.pass_(T0 + 899, 99) == []
    assert [a.instance for a in fleet.pass_(T0 + 900, 99)] == ["l2"]


def test_no_stopped_instance_left_does_nothing_and_says_why():
    fleet = Fleet(statuses={"web1": "online", "web2": "online", "l1": "online", "l2": "online",
                            "office": "stopped"},
                  wanted={"l1": WANT_RUNNING, "l2": WANT_RUNNING})
    fleet.pass_(T0, 90)
    assert fleet.pass_(T0 + 300, 90) == []
    assert fleet.note() == "layer app average cpu 90.0% > 80%, but no stopped load-based instance is left in layer app"


def test_down_scaling_stops_the_last_declared_running_load_instance():
    fleet = Fleet(statuses={"web1": "online", "web2": "online", "l1": "online", "l2": "online",
                            "office": "stopped"},
                  wanted={"l1": WANT_RUNNING, "l2": WANT_RUNNING})
    assert fleet.pass_(T0, 10) == []
    assert fleet.pass_(T0 + 599, 10) == []
    assert fleet.pass_(T0 + 600, 10) == [Action(STOP, "l2", "load: layer app average cpu 10.0% < 30% for 10m", "load")]
    assert fleet.pass_(T0 + 1199, 10) == []  # ignore_metrics_time of down: 10m
    fleet.pass_(T0 + 1200, 10)
    assert [a.instance for a in fleet.pass_(T0 + 1800, 10)] == ["l1"]
    fleet.pass_(T0 + 2400, 5)
    assert fleet.pass_(T0 + 3000, 5) == []  # only 24/7 ones are left: never stopped
    assert fleet.note() == "layer app average cpu 5.0% < 30%, but no online load-based instance is left in layer app"
    assert fleet.statuses["web1"] == fleet.statuses["web2"] == "online"


def test_down_scaling_needs_every_threshold_below():
    down = ScalingThresholds(cpu=30, memory=50, thresholds_wait_time=0)
    fleet = Fleet(app_stack(down=down), statuses={"web1": "online", "web2": "stopped", "l1": "online",
                                                  "l2": "stopped", "office": "stopped"},
                  wanted={"l1": WANT_RUNNING})
    busy_memory = [cpu("web1", 10, T0, memory=70), cpu("l1", 10, T0, memory=70)]
    assert fleet.pass_(T0, samples=busy_memory) == []
    idle = [cpu("web1", 10, T0, memory=40), cpu("l1", 12, T0, memory=40)]
    assert fleet.pass_(T0 + 1, samples=idle) == [
        Action(STOP, "l1", "load: layer app average cpu 11.0% < 30%, memory 40.0% < 50% for 0s", "load")]


def test_any_up_threshold_counts_and_minus_one_turns_one_off():
    up = ScalingThresholds(cpu=-1, memory=80, load=2, thresholds_wait_time=0)
    fleet = Fleet(app_stack(up=up, down=ScalingThresholds(cpu=-1)))
    assert fleet.pass_(T0, samples=[cpu("web1", 100, T0, memory=10, load1=0.5)]) == []  # cpu is off
    actions = fleet.pass_(T0 + 1, samples=[cpu("web1", 100, T0, memory=10, load1=3.0)])
    assert actions == [Action(START, "l1", "load: layer app average load 3.0 > 2 for 0s", "load")]


def test_a_direction_with_every_threshold_off_never_acts():
    off = ScalingThresholds(cpu=-1, thresholds_wait_time=0)
    fleet = Fleet(app_stack(up=off, down=off))
    assert fleet.pass_(T0, 100) == [] and fleet.pass_(T0 + 1, 0) == []


def test_averages_over_the_layers_online_instances_that_answered():
    stack_ = app_stack(extra=[instance("db1", layers=("db",))])
    samples = [
        cpu("web1", 90, T0), cpu("web2", 60, T0),
        Sample("l1", T0, False, error="timed out"),  # did not answer
        Sample("l2", T0, True, memory=50.0),  # answered without a cpu reading
        cpu("db1", 100, T0),  # another layer
    ]
    averages = layer_averages(view(stack_, T0, {}, samples=samples), "app")
    assert averages == {"cpu": 75.0, "memory": 50.0, "load": None}
    assert exceeded(UP, averages) == [] and below(DOWN, averages) == []
    assert exceeded(UP, {"cpu": 80.5}) == ["cpu 80.5% > 80%"]
    assert exceeded(UP, {"cpu": 80.0}) == []  # above, not at


def test_no_samples_means_no_decision():
    fleet = Fleet()
    assert fleet.pass_(T0, samples=[]) == [] and fleet.pass_(T0 + 10_000, samples=[]) == []
    assert fleet.note() is None  # nothing held: nothing to say


def test_never_touches_24_7_or_time_based_instances():
    fleet = Fleet(statuses={"web1": "online", "web2": "stopped", "l1": "online", "l2": "online",
                            "office": "stopped"},
                  wanted={"web2": WANT_STOPPED, "l1": WANT_RUNNING, "l2": WANT_RUNNING})
    fleet.pass_(T0, 99)
    assert fleet.pass_(T0 + 300, 99) == []  # web2 (24/7) and office (time) stay stopped


def test_instances_booting_are_not_stopped():
    fleet = Fleet(statuses={"web1": "online", "web2": "online", "l1": "running_setup", "l2": "stopped",
                            "office": "stopped"},
                  wanted={"l1": WANT_RUNNING})
    fleet.pass_(T0, 5)
    assert fleet.pass_(T0 + 600, 5) == []


def test_disabled_or_absent_load_based_does_nothing():
    fleet = Fleet(app_stack(up=ScalingThresholds(cpu=50, thresholds_wait_time=0), enable=False))
    assert fleet.pass_(T0, 100) == [] and fleet.memory["load"] == {}


def test_an_instance_of_two_load_layers_is_started_once():
    fast = LoadBased(up=ScalingThresholds(cpu=50, thresholds_wait_time=0))
    both = stack([instance("w", layers=("app", "api")), instance("l", layers=("app", "api"), scaling="load")],
                 {"app": fast, "api": fast})
    actions = LoadPolicy().decide(view(both, T0, {"w": "online", "l": "stopped"}, {"l": WANT_STOPPED},
                                       [cpu("w", 99, T0)]))
    assert [(a.kind, a.instance) for a in actions] == [(START, "l")]


def test_a_never_started_load_instance_counts_as_stopped():
    fleet = Fleet(statuses={"web1": "online", "web2": "online", "l1": "missing", "l2": "missing",
                            "office": "missing"}, wanted={"web1": WANT_RUNNING})
    fleet.wanted = {"web1": WANT_RUNNING}  # no record for the others
    fleet.pass_(T0, 90)
    assert [a.instance for a in fleet.pass_(T0 + 300, 90)] == ["l1"]
