"""Deep merging of attribute mappings.

Mappings merge key by key; anything else (lists included, as in Chef's
override levels) is replaced by the higher level. The stack loader merges a
stack's custom_json parts with it, and cookbooks merge node attributes with it
(:func:`runner.cookbooks.attributes.merge_attributes`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``override`` on top of ``base``; nested dicts merge, other values replace.

    Neither input is changed, and the result shares no mutable value with them.
    """
    result: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result
