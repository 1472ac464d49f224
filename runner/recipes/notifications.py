"""Resolve ``notifies`` and ``subscribes`` once every recipe of a run has declared its resources.

``subscribes=("restart", "template[/etc/app.conf]")`` on R is the same as
``notifies=("restart", R.key)`` on the template; after this pass only
``notifies`` matter. When several resources share a key, the first declared
one is the target (the others are usually mistakes, but Chef allows them).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from runner.errors import Location, UserError
from runner.resources.api import Notification, Resource


def resolve_notifications(resources: Sequence[Resource]) -> None:
    """Turn subscriptions into notifications, then check every notification.

    :raises UserError: (at the declaring resource) a target that is not
        declared in this run, or an action its type does not have.
    """
    by_key: dict[str, Resource] = {}
    for resource in resources:
        by_key.setdefault(resource.key, resource)
    for resource in resources:
        for sub in resource.subscribes:
            source = _target(resource, sub, by_key, "subscribes to")
            _check_action(resource, sub.action, resource, "subscribes with")
            source.notifies.append(Notification(sub.action, resource.key, sub.timing))
    for resource in resources:
        for note in resource.notifies:
            target = _target(resource, note, by_key, "notifies")
            _check_action(resource, note.action, target, "notifies")


def location_of(resource: Resource) -> Location | None:
    """The ``path:line`` the compiler recorded, as a Location."""
    if not resource.source_location:
        return None
    path, _, line = resource.source_location.rpartition(":")
    return Location.of(path, int(line)) if path and line.isdigit() else Location.of(resource.source_location)


def _target(resource: Resource, note: Notification, by_key: dict[str, Resource], verb: str) -> Resource:
    found = by_key.get(note.target)
    if found is not None:
        return found
    close = difflib.get_close_matches(note.target, list(by_key), n=1)
    hint = f"did you mean '{close[0]}'?" if close else "declare it in a recipe of this run"
    raise UserError(f"{resource.key} {verb} {note.target}, which no recipe of this run declares",
                    location_of(resource), hint)


def _check_action(declaring: Resource, action: str, target: Resource, verb: str) -> None:
    actions = type(target).actions
    if action in actions:
        return
    close = difflib.get_close_matches(action, list(actions), n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"its actions: {', '.join(actions)}"
    raise UserError(f"{declaring.key} {verb} action '{action}' but {target.key} has no such action",
                    location_of(declaring), hint)
