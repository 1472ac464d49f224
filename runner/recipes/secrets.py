"""Keep secure environment values out of logs: find them, and mark resources that hold them.

A resource whose arguments or prepared contents (a rendered template, a
command line) contain a secure value of any app is marked ``sensitive``, so
the engine keeps its contents out of logs and diffs even when the recipe
forgot to say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runner.model.stack import MIN_SECRET_LENGTH, Stack
from runner.resources.api import Resource

__all__ = ["MIN_SECRET_LENGTH", "mark_sensitive", "secret_values"]
_MAX_DEPTH = 20


def secret_values(stack: Stack) -> set[str]:
    """Every secure value of the stack (those long enough to look for): the apps' secure environment
    variables, the passwords of the registered databases, and every value written ``!encrypted``
    (in stack.yml, its custom JSON and its cookbooks' attributes) once decrypted."""
    values = [env for app in stack.apps.values() for env in app.environment.values()]
    values += [database.password for database in stack.databases.values()]
    found = {env.value for env in values if env.secure}
    found.update(stack.decrypted.values())
    return {value for value in found if len(value) >= MIN_SECRET_LENGTH}


def mark_sensitive(resources: Iterable[Resource], secrets: set[str]) -> None:
    """Set ``sensitive`` on each resource that holds one of ``secrets`` anywhere in its attributes."""
    if not secrets:
        return
    as_bytes = {secret.encode() for secret in secrets}
    for resource in resources:
        if not resource.sensitive and _holds(vars(resource), secrets, as_bytes, 0):
            resource.sensitive = True


def _holds(value: Any, secrets: set[str], as_bytes: set[bytes], depth: int) -> bool:
    if isinstance(value, str):
        return any(secret in value for secret in secrets)
    if isinstance(value, (bytes, bytearray)):
        return any(secret in value for secret in as_bytes)
    if depth >= _MAX_DEPTH:  # deeper than any sane argument; also stops on cycles
        return False
    if isinstance(value, Mapping):
        return any(_holds(k, secrets, as_bytes, depth + 1) or _holds(v, secrets, as_bytes, depth + 1)
                   for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds(item, secrets, as_bytes, depth + 1) for item in value)
    return False
