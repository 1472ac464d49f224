"""What the schedule and load policies read of an instance: is it meant to run, may it be started or stopped.

Time-based and load-based instances are started only by ``runner watch`` (as in
OpsWorks, where "start all" leaves them alone), so one without a wanted state
on record counts as meant to run only while its provider says it is up.
"""

from __future__ import annotations

from runner.model.stack import SCALING_24_7
from runner.providers.api import (
    BOOTING,
    CONNECTION_LOST,
    MISSING,
    ONLINE,
    PENDING,
    REQUESTED,
    RUNNING_SETUP,
    SETUP_FAILED,
    STOPPED,
    TERMINATED,
)
from runner.watch.types import WANT_RUNNING, WANT_STOPPED, WatchView

#: statuses of an instance that is up or on its way up
ACTIVE: frozenset[str] = frozenset({REQUESTED, PENDING, BOOTING, RUNNING_SETUP, ONLINE, SETUP_FAILED, CONNECTION_LOST})
#: statuses of an instance at rest, that a START may bring up (start_failed is left to the user)
RESTING: frozenset[str] = frozenset({STOPPED, MISSING, TERMINATED})


def status_of(view: WatchView, instance: str) -> str:
    return view.statuses.get(instance, MISSING)


def wanted_state(view: WatchView, instance: str) -> str:
    """WANT_RUNNING or WANT_STOPPED: the record, else running for a 24/7 instance, else what it is doing."""
    wanted = view.wanted.get(instance)
    if wanted is not None:
        return wanted
    if view.stack.instances[instance].scaling == SCALING_24_7:
        return WANT_RUNNING
    return WANT_RUNNING if status_of(view, instance) in ACTIVE else WANT_STOPPED


def startable(view: WatchView, instance: str) -> bool:
    """Meant to be stopped and at rest: a START brings it up."""
    return wanted_state(view, instance) == WANT_STOPPED and status_of(view, instance) in RESTING


def stoppable(view: WatchView, instance: str) -> bool:
    """Meant to run and online (not in the middle of booting or setup): a STOP takes it down."""
    return wanted_state(view, instance) == WANT_RUNNING and status_of(view, instance) == ONLINE


def span(seconds: float) -> str:
    """``300`` -> ``5m``, ``3600`` -> ``1h``, ``90`` -> ``90s``: a duration as stack.yml writes it."""
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    if whole and whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole and whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s"
