"""The built-in strategies' order of operations, against a recording rollout (pure logic, no host).

The operations themselves (change, health check, revert, balancer) are
exercised against real hosts in tests/integration/test_deploy*.py.
"""

from __future__ import annotations

import pytest

from runner.model.stack import DeploySettings, HealthCheck
from runner.strategies.api import batch_size, batches
from runner.strategies.builtin import AllAtOnce, BlueGreen, Rolling, colours, live_colour


class Recorder:
    """Implements the Rollout protocol by writing down each call; ``unhealthy`` hosts fail their check."""

    command = "deploy"

    def __init__(self, hosts, settings=None, unhealthy=(), balancer=None, broken=()):
        self.hosts = list(hosts)
        self.settings = settings or DeploySettings(health_check=HealthCheck("true"))
        self.unhealthy, self.broken = set(unhealthy), set(broken)
        self.balancer = balancer  # server -> state, or None
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.failures = 0
        self.stopped = None

    @property
    def has_balancer(self):
        return self.balancer is not None

    def _call(self, name, batch):
        self.calls.append((name, tuple(batch)))

    def change(self, batch):
        self._call("change", batch)
        return [h for h in batch if h in self.broken]

    def health_check(self, batch):
        self._call("health", batch)
        return [h for h in batch if h in self.unhealthy]

    def revert(self, batch):
        self._call("revert", batch)

    def drain(self, batch):
        self._call("drain", batch)
        return []

    def enable(self, batch):
        self._call("enable", batch)
        return []

    def balancer_states(self):
        return dict(self.balancer or {})

    def step(self, batch, undo_batch=True, label=None, balancer=True):
        self._call("step" if balancer else "step without balancer", batch)
        failed = [h for h in batch if h in self.unhealthy | self.broken]
        self.failures += len(failed)
        return self.failures <= self.settings.max_failures

    def stop(self, reason):
        self.stopped = reason

    def say(self, message):
        pass

    def record(self, label, seconds):
        self.calls.append(("record", (label,)))


@pytest.mark.parametrize(("batch", "hosts", "size"), [(1, 5, 1), (2, 5, 2), (9, 3, 9), ("30%", 10, 3),
                                                        ("30%", 4, 2), ("1%", 3, 1), ("100%", 7, 7)])
def test_batch_size(batch, hosts, size):
    assert batch_size(batch, hosts) == size


def test_batches_keep_order_and_the_last_one_is_smaller():
    assert batches(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]


def test_all_at_once_is_one_step_that_does_not_undo_the_healthy_hosts():
    rollout = Recorder(["a", "b", "c"], unhealthy={"b"})
    AllAtOnce().deploy(rollout)
    assert rollout.calls == [("step without balancer", ("a", "b", "c"))]


def test_rolling_stops_at_the_first_failed_batch():
    rollout = Recorder(["a", "b", "c", "d", "e"], DeploySettings(batch=2), unhealthy={"c"})
    Rolling().deploy(rollout)
    assert rollout.calls == [("step", ("a", "b")), ("step", ("c", "d"))]
    assert rollout.stopped == "batch 2 failed; batches after it were not deployed"


def test_rolling_goes_on_within_max_failures():
    rollout = Recorder(["a", "b", "c", "d"], DeploySettings(batch=1, max_failures=1), unhealthy={"b", "d"})
    Rolling().deploy(rollout)
    assert [c[1] for c in rollout.calls] == [("a",), ("b",), ("c",), ("d",)]
    assert rollout.stopped.startswith("batch 4 failed")


def test_colours_split_in_halves_or_as_configured():
    assert colours(["a", "b", "c"], {}) == {"blue": ["a", "b"], "green": ["c"]}
    assert colours(["a", "b", "c", "d"], {"blue": ["d", "a"], "green": ["b"]}) == {"blue": ["a", "d"],
                                                                                    "green": ["b"]}


@pytest.mark.parametrize(("states", "live"), [
    ({}, "blue"),  # never switched: blue counts as live
    ({"a": "ready", "b": "ready"}, "blue"),
    ({"a": "maint", "b": "ready"}, "green"),
    ({"a": "ready", "b": "maint"}, "blue"),
    ({"a": "drain", "b": "ready"}, "green"),
])
def test_live_colour(states, live):
    assert live_colour({"blue": ["a"], "green": ["b"]}, states) == live


def test_blue_green_changes_the_idle_colour_then_switches():
    rollout = Recorder(["a", "b", "c", "d"], balancer={"a": "maint", "b": "maint", "c": "ready", "d": "ready"})
    BlueGreen().deploy(rollout)
    assert rollout.calls == [("change", ("a", "b")), ("health", ("a", "b")), ("enable", ("a", "b")),
                             ("drain", ("c", "d")), ("record", ("balancer switch",))]


def test_blue_green_with_an_unhealthy_idle_host_reverts_the_colour_and_keeps_the_balancer():
    rollout = Recorder(["a", "b"], balancer={}, unhealthy={"b"})
    BlueGreen().deploy(rollout)
    assert rollout.calls == [("change", ("b",)), ("health", ("b",)), ("revert", ("b",))]
    assert "still sends everything to blue" in rollout.stopped


def test_blue_green_rollback_only_switches_back():
    rollout = Recorder(["a", "b"], balancer={"a": "maint", "b": "ready"})
    BlueGreen().rollback(rollout)
    assert rollout.calls == [("health", ("a",)), ("enable", ("a",)), ("drain", ("b",)),
                             ("record", ("balancer switch",))]


def test_blue_green_needs_two_colours():
    rollout = Recorder(["a"], balancer={})
    BlueGreen().deploy(rollout)
    assert rollout.calls == [] and "both colours" in rollout.stopped
