"""Check and build ``instances.<name>.schedule`` and ``layers.<name>.load_based``.

A schedule is OpsWorks' WeeklyAutoScalingSchedule, in UTC: each key names a day
(``Monday``), a range of days (``Monday-Friday``, wrapping past Sunday when the
first comes later) or ``Daily``; each value says the day's on-hours, either as
OpsWorks does (``{"9": on, "10": on}``, every hour not named is off) or as
ranges (``"8-18"``: 08:00 to 18:00, the end hour excluded; ``"8-12, 14-18"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from typing import Any

from runner.model.durations import parse_duration
from runner.model.fields import Checker, suggest
from runner.model.stack import (
    DOWN_DEFAULTS,
    SCALING_24_7,
    SCALING_LOAD,
    SCALING_TIME,
    SCALINGS,
    UP_DEFAULTS,
    WEEKDAYS,
    LoadBased,
    ScalingThresholds,
    Schedule,
)
from runner.model.yamlsource import KeyPath

DAILY = "Daily"
LOAD_BASED_KEYS: tuple[str, ...] = ("enable", "up", "down")
THRESHOLD_KEYS: tuple[str, ...] = (
    "instances", "cpu", "memory", "load", "thresholds_wait_time", "ignore_metrics_time",
)
_HOURS = re.compile(r"^\s*(\d{1,2})\s*(?:-\s*(\d{1,2})\s*)?$")
_DAY_NUMBER = {day.lower(): i for i, day in enumerate(WEEKDAYS)}
_HOURS_HINT = "write hours like '8-18' (08:00 to 18:00 UTC), '8-12, 14-18', \"9\", or {\"9\": on, \"10\": on}"
_SWITCH = {"on": True, "off": False}


# -- schedules ---------------------------------------------------------------

def read_schedule(check: Checker, path: KeyPath, value: Any) -> Schedule:
    """A :class:`Schedule` from ``instances.<name>.schedule``; each day may be given once."""
    raw = check.mapping(path, value)
    days: list[frozenset[int]] = [frozenset()] * 7
    given: dict[int, str] = {}  # weekday -> the key that set it
    for key, hours in raw.items():
        key_path = path + (key,)
        weekdays = check.attempt(_weekdays, check, key_path, key)
        on = check.attempt(_day_hours, check, key_path, hours)
        if weekdays is None:
            continue
        clash = [d for d in weekdays if d in given]
        if clash:
            names = ", ".join(WEEKDAYS[d] for d in clash)
            check.fail(key_path, f"{names} already set by '{given[clash[0]]}'", "give each day once", at_key=True)
        for day in weekdays:
            if day not in given:
                given[day] = key
                if on is not None:
                    days[day] = on
    return Schedule(tuple(days))


def _weekdays(check: Checker, path: KeyPath, key: str) -> list[int]:
    """``Monday`` -> [0]; ``Friday-Monday`` -> [4, 5, 6, 0]; ``Daily`` -> all seven (names in any case)."""
    if key.strip().lower() == DAILY.lower():
        return list(range(7))
    ends = [_weekday(check, path, part.strip()) for part in key.split("-")]
    if len(ends) > 2:
        raise check.fail(path, f"'{key}' is not a day or a range of days", "write 'Monday' or 'Monday-Friday'",
                         at_key=True)
    first, last = ends[0], ends[-1]
    return [(first + i) % 7 for i in range((last - first) % 7 + 1)]


def _weekday(check: Checker, path: KeyPath, name: str) -> int:
    if name.lower() in _DAY_NUMBER:
        return _DAY_NUMBER[name.lower()]
    raise check.fail(path, f"unknown day '{name}'", suggest(name, WEEKDAYS + (DAILY,), list_all=True),
                     at_key=True)


def _day_hours(check: Checker, path: KeyPath, value: Any) -> frozenset[int]:
    """One day's on-hours: ``"8-18"``, ``9``, ``true`` (all day), ``false``, or ``{"9": on, ...}``."""
    if isinstance(value, bool):
        return frozenset(range(24)) if value else frozenset()
    if isinstance(value, int):
        return frozenset(_hour_range(check, path, str(value)))
    if isinstance(value, str):
        if value.strip().lower() in _SWITCH:
            return frozenset(range(24)) if _SWITCH[value.strip().lower()] else frozenset()
        hours: set[int] = set()
        for part in value.split(","):
            hours.update(_hour_range(check, path, part))
        return frozenset(hours)
    if isinstance(value, dict):
        return _hour_switches(check, path, value)
    raise check.fail(path, "expected the day's on-hours", _HOURS_HINT)


def _hour_switches(check: Checker, path: KeyPath, value: dict[str, Any]) -> frozenset[int]:
    """OpsWorks' form: hour (or range) -> on/off. Hours not named are off; an off hour wins over an on range."""
    on: set[int] = set()
    off: set[int] = set()
    for key, switch in value.items():
        hours = check.attempt(_key_hours, check, path + (key,), key)
        state = check.attempt(_switch, check, path + (key,), switch)
        if hours is not None and state is not None:
            (on if state else off).update(hours)
    return frozenset(on - off)


def _key_hours(check: Checker, path: KeyPath, key: str) -> range:
    try:
        return _hour_range(check, path, key, quiet=True)
    except _BadHours as exc:
        raise check.fail(path, str(exc), exc.hint, at_key=True) from None


def _switch(check: Checker, path: KeyPath, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _SWITCH:
        return _SWITCH[value.strip().lower()]
    raise check.expected(path, "on or off", value)


def _hour_range(check: Checker, path: KeyPath, text: str, quiet: bool = False) -> range:
    """``"9"`` -> 9..9; ``"8-18"`` -> 8..17 (the end hour is where the day's on-time stops)."""
    problem, hint = _range_problem(text)
    if problem is None:
        found = _HOURS.match(text)
        assert found is not None
        start = int(found.group(1))
        return range(start, int(found.group(2)) if found.group(2) else start + 1)
    if quiet:
        raise _BadHours(problem, hint)
    raise check.fail(path, problem, hint)


class _BadHours(ValueError):
    def __init__(self, problem: str, hint: str):
        super().__init__(problem)
        self.hint = hint


def _range_problem(text: str) -> tuple[str | None, str]:
    """What is wrong with an hour or a range of hours, and what to write instead."""
    found = _HOURS.match(text)
    if not found:
        return f"'{text.strip()}' is not an hour (0-23) or a range of hours such as 8-18", _HOURS_HINT
    start, end = int(found.group(1)), found.group(2)
    if start > 23:
        return f"hour {start} is out of range: hours are 0 to 23", _HOURS_HINT
    if end is not None and int(end) > 24:
        return f"a range ends at hour 24 at the latest, got {end}", "24 is midnight at the end of the day"
    if end is not None and int(end) <= start:
        return (f"the range {start}-{end} ends before it starts",
                "a range ends at the hour it names: 18-24 is 18:00 to midnight; give a night across "
                "midnight as the evening of one day and the morning of the next")
    return None, ""


# -- instances ---------------------------------------------------------------

def read_scaling(check: Checker, path: KeyPath, value: Any) -> str:
    """``instances.<name>.scaling``: ``24/7``, ``time`` or ``load``."""
    return check.choice(path, value, SCALINGS, "scaling")


def instance_scaling(check: Checker, path: KeyPath, raw: dict[str, Any], given: str | None,
                     schedule: Schedule | None, layers: tuple[str, ...], load_layers: Collection[str]) -> str:
    """What starts and stops the instance: a schedule makes it time-based; ``scaling: load`` needs a
    layer with ``load_based``. A contradiction is reported and the instance is left 24/7."""
    if schedule is not None or "schedule" in raw:
        if given not in (None, SCALING_TIME):
            check.fail(path + ("schedule",), f"a schedule makes the instance time-based, but scaling says '{given}'",
                       "remove the schedule or the scaling key", at_key=True)
            return SCALING_24_7
        return SCALING_TIME if schedule is not None else SCALING_24_7
    if given == SCALING_TIME:
        check.fail(path + ("scaling",), "scaling 'time' needs a schedule",
                   "add a schedule in UTC hours, e.g. schedule: {Monday-Friday: '8-18'}")
        return SCALING_24_7
    if given == SCALING_LOAD and layers and not any(layer in load_layers for layer in layers):
        check.fail(path + ("scaling",), "scaling 'load' needs one of the instance's layers to have load_based",
                   f"add load_based to layer '{layers[0]}', e.g. load_based: {{up: {{cpu: 80}}, down: {{cpu: 30}}}}")
        return SCALING_24_7
    return given or SCALING_24_7


# -- layers ------------------------------------------------------------------

def read_load_based(check: Checker, path: KeyPath, value: Any) -> LoadBased:
    """``layers.<name>.load_based``: ``enable`` (default true), ``up`` and ``down`` thresholds."""
    raw = check.mapping(path, value, LOAD_BASED_KEYS, allow_null=True)
    reported = len(check.errors)
    up = check.get(raw, path + ("up",), lambda p, v: _thresholds(check, p, v, UP_DEFAULTS), UP_DEFAULTS)
    down = check.get(raw, path + ("down",), lambda p, v: _thresholds(check, p, v, DOWN_DEFAULTS), DOWN_DEFAULTS)
    if len(check.errors) > reported:  # a bad threshold is at its default: comparing it would mislead
        return LoadBased(enable=check.get(raw, path + ("enable",), check.boolean, True), up=up, down=down)
    for metric, high in up.thresholds.items():
        low = down.thresholds.get(metric)
        if low is not None and low >= high:
            check.fail(path + ("down", metric) if "down" in raw else path,
                       f"down.{metric} ({low:g}) must be below up.{metric} ({high:g})",
                       "otherwise the layer would start and stop instances in turn")
    return LoadBased(enable=check.get(raw, path + ("enable",), check.boolean, True), up=up, down=down)


def _thresholds(check: Checker, path: KeyPath, value: Any, base: ScalingThresholds) -> ScalingThresholds:
    raw = check.mapping(path, value, THRESHOLD_KEYS, allow_null=True)

    def get(key: str, reader: Callable[[KeyPath, Any], Any]) -> Any:
        return check.get(raw, path + (key,), reader, getattr(base, key))

    return ScalingThresholds(
        instances=get("instances", lambda p, v: check.integer(p, v, 1)),
        cpu=get("cpu", lambda p, v: _percent(check, p, v)),
        memory=get("memory", lambda p, v: _percent(check, p, v)),
        load=get("load", lambda p, v: _load(check, p, v)),
        thresholds_wait_time=get("thresholds_wait_time", lambda p, v: duration(check, p, v)),
        ignore_metrics_time=get("ignore_metrics_time", lambda p, v: duration(check, p, v)),
    )


def _percent(check: Checker, path: KeyPath, value: Any) -> float:
    number = check.number(path, value)
    if number != -1 and not 0 <= number <= 100:
        raise check.fail(path, f"must be -1 (off) or a percentage from 0 to 100, got {value}")
    return number


def _load(check: Checker, path: KeyPath, value: Any) -> float:
    number = check.number(path, value)
    if number != -1 and number < 0:
        raise check.fail(path, f"must be -1 (off) or a load average of 0 or more, got {value}")
    return number


def duration(check: Checker, path: KeyPath, value: Any) -> float:
    """A duration (``30s``, ``5m``, ``1h`` or seconds), reported at its place when it is not one."""
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise check.fail(path, str(exc)) from None
    if not math.isfinite(seconds):
        raise check.fail(path, f"must be a finite duration, got {value}")
    return seconds
