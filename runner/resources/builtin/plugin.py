"""The plugin that registers the built-in resource types (loaded first, like any plugin)."""

from __future__ import annotations

from runner import hookimpl
from runner.resources.api import Resource
from runner.resources.builtin import BUILTIN_TYPES


@hookimpl
def runner_resource_types() -> list[type[Resource]]:
    return list(BUILTIN_TYPES)
