"""Durations in stack.yml: ``30s``, ``5m``, ``1h``, or a number of seconds."""

from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float:
    """Seconds in ``value``: a non-negative number, or a string such as ``30s``, ``5m``, ``1h``, ``90``.

    :raises ValueError: with a sentence saying what is accepted.
    """
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 30s, 5m, 1h, not a boolean")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"a duration cannot be negative ({value})")
        return float(value)
    if isinstance(value, str):
        found = _DURATION.match(value)
        if found:
            return float(found.group(1)) * _UNIT[found.group(2)]
    raise ValueError(f"{value!r} is not a duration: write seconds or a string like 30s, 5m, 1h")
