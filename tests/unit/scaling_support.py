"""Stacks and views for the watch policies' unit tests (pure: no host, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from runner.model.stack import Instance, Layer, LoadBased, Schedule, Stack
from runner.watch.types import Sample, WatchView


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> float:
    """Epoch seconds of a UTC time in the week of Monday 2026-11-30 (day 0 = Monday, 6 = Sunday, 7 = next Monday)."""
    monday = datetime(2026, 11, 30, tzinfo=UTC)
    return (monday + timedelta(days=day, hours=hour, minutes=minute, seconds=second)).timestamp()


def week(**days: range | list[int]) -> Schedule:
    """``week(monday=range(8, 18))``: a schedule from day names to on-hours."""
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return Schedule(tuple(frozenset(days.get(name, ())) for name in names))


def instance(name: str, layers: tuple[str, ...] = ("app",), scaling: str = "24/7",
             schedule: Schedule | None = None) -> Instance:
    return Instance(name=name, layers=layers, hostname=name, scaling=scaling, schedule=schedule)


def stack(instances: list[Instance], load_based: dict[str, LoadBased | None] | None = None) -> Stack:
    layers = {n: Layer(name=n, recipes={}, load_based=lb) for n, lb in (load_based or {"app": None}).items()}
    return Stack(name="s", path=Path("/nonexistent/stack.yml"), layers=layers,
                 instances={i.name: i for i in instances})


def view(stack_: Stack, now: float, statuses: dict[str, str], wanted: dict[str, str] | None = None,
         samples: list[Sample] | None = None, memory: dict[str, Any] | None = None) -> WatchView:
    return WatchView(stack=stack_, now=now, statuses=statuses, samples={s.instance: s for s in samples or []},
                     wanted=wanted or {}, memory=memory if memory is not None else {})
