"""HealingPolicy: heal an instance that should run after its layers' `after`, give up after max attempts."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.model.stack import Instance, Layer, Stack
from runner.watch.healing import HealingPolicy, healing_after
from runner.watch.state import HealEntry
from runner.watch.types import GIVE_UP, HEAL, WANT_STOPPED, WatchView

T0 = 1_800_000_000.0


def stack(healing: dict[str, float | None], instances: dict[str, tuple[str, ...]] | None = None) -> Stack:
    layers = {name: Layer(name=name, recipes={}, auto_healing=after is not None,
                          auto_healing_after=after if after is not None else 300.0)
              for name, after in healing.items()}
    instances = instances or {"app1": ("app",), "app2": ("app",)}
    return Stack(name="s", path=Path("/nonexistent/stack.yml"), layers=layers,
                 instances={n: Instance(name=n, layers=ls, hostname=n) for n, ls in instances.items()})


class World:
    def __init__(self, stack_: Stack, statuses: dict[str, str], wanted=None, heals=True, attempts=3):
        self.stack, self.statuses, self.wanted = stack_, statuses, wanted or {}
        self.heal: dict[str, HealEntry] = {}
        self.heals = heals
        self.policy = HealingPolicy(attempts)

    def pass_(self, now: float):
        view = WatchView(self.stack, now, dict(self.statuses), {}, dict(self.wanted), {}, self.heal, self.heals)
        return [(a.kind, a.instance) for a in self.policy.decide(view)], view


def test_a_stopped_instance_is_healed_after_its_layers_after() -> None:
    world = World(stack({"app": 60}), {"app1": "stopped", "app2": "online"})
    assert world.pass_(T0)[0] == []
    assert world.heal["app1"] == HealEntry(0, T0, False, None)
    assert world.pass_(T0 + 59)[0] == []
    actions, view = world.pass_(T0 + 60)
    assert actions == [(HEAL, "app1")]
    assert world.heal["app1"].attempts == 1 and world.heal["app1"].since == T0
    why = HealingPolicy(3).decide(WatchView(world.stack, T0 + 61, dict(world.statuses), {}, {}, {}, {
        "app1": HealEntry(0, T0)}))[0].why
    assert why.startswith("auto-healing: stopped for 61s (after 1m), attempt 1 of 3")


@pytest.mark.parametrize("status", ["stopped", "missing", "terminated", "stop_failed", "connection_lost"])
def test_every_failed_status_counts(status) -> None:
    world = World(stack({"app": 0}), {"app1": status, "app2": "online"})
    assert world.pass_(T0)[0] == [(HEAL, "app1")]


@pytest.mark.parametrize("status", ["online", "pending", "booting", "running_setup", "setup_failed", "stopping",
                                    "shutting_down", "requested"])
def test_answering_or_moving_instances_are_left_alone_and_forgotten(status) -> None:
    world = World(stack({"app": 0}), {"app1": status, "app2": "online"})
    world.heal["app1"] = HealEntry(2, T0 - 100)
    assert world.pass_(T0)[0] == [] and "app1" not in world.heal


def test_healing_needs_every_layer_on_and_takes_the_longest_after() -> None:
    both = stack({"app": 30, "db": 90}, {"app1": ("app", "db"), "app2": ("app",)})
    world = World(both, {"app1": "stopped", "app2": "stopped"})
    view = world.pass_(T0)[1]
    assert healing_after(view, "app1") == 90 and healing_after(view, "app2") == 30
    half = stack({"app": 30, "db": None}, {"app1": ("app", "db"), "app2": ("app",)})
    world = World(half, {"app1": "stopped", "app2": "stopped"})
    assert world.pass_(T0 + 1000)[0] == []
    assert world.pass_(T0 + 1030)[0] == [(HEAL, "app2")]
    assert "app1" not in world.heal


def test_a_stop_by_hand_is_not_a_failure() -> None:
    world = World(stack({"app": 0}), {"app1": "stopped", "app2": "online"}, wanted={"app1": WANT_STOPPED})
    assert world.pass_(T0)[0] == []


def test_a_provider_that_cannot_heal_is_never_asked() -> None:
    world = World(stack({"app": 0}), {"app1": "connection_lost", "app2": "online"}, heals=False)
    assert world.pass_(T0)[0] == [] and world.heal == {}


def test_after_max_attempts_it_gives_up_and_stays_given_up() -> None:
    world = World(stack({"app": 0}), {"app1": "stopped", "app2": "online"}, attempts=2)
    assert world.pass_(T0)[0] == [(HEAL, "app1")]
    world.heal["app1"] = HealEntry(1, T0, False, "heal failed: boom")  # as the loop records a failed heal
    assert world.pass_(T0 + 10)[0] == [(HEAL, "app1")]
    actions, _ = world.pass_(T0 + 20)
    assert actions == [(GIVE_UP, "app1")]
    assert world.heal["app1"].start_failed and world.heal["app1"].attempts == 2
    world.statuses["app1"] = "start_failed"
    assert world.pass_(T0 + 30)[0] == []
    assert world.heal["app1"].start_failed


def test_entries_of_instances_no_longer_in_the_stack_are_dropped() -> None:
    world = World(stack({"app": 0}), {"app1": "online", "app2": "online"})
    world.heal["gone"] = HealEntry(1, T0)
    world.pass_(T0)
    assert "gone" not in world.heal


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError):
        HealingPolicy(0)
