"""Node attributes: the OpsWorks precedence order.

Lowest first: cookbook default attributes, stack custom_json, layer
custom_json (in the instance's layer order), instance custom_json, the
command's ``--json``. Mappings merge key by key; anything else (lists
included, as in Chef's override levels) is replaced by the higher level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runner.model.merge import deep_merge


def merge_attributes(
    cookbook_defaults: Iterable[Mapping[str, Any]],
    stack_json: Mapping[str, Any] | None,
    layer_jsons: Iterable[Mapping[str, Any]],
    instance_json: Mapping[str, Any] | None,
    command_json: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The node attributes of one instance, merging the five levels lowest first."""
    levels: list[Mapping[str, Any] | None] = [*cookbook_defaults, stack_json, *layer_jsons, instance_json, command_json]
    result: dict[str, Any] = {}
    for level in levels:
        if level:
            result = deep_merge(result, level)
    return result
