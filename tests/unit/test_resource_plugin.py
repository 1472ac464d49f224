"""The built-in resource types are registered through the plugin hook, first."""

from __future__ import annotations

from runner.plugin.manager import BUILTIN_PLUGINS
from runner.plugin.registry import Registry
from runner.resources.api import Resource
from runner.resources.builtin import BUILTIN_TYPES

NAMES = ["directory", "execute", "file", "group", "link", "package", "service", "template", "user"]


def test_nine_types_registered_by_the_resources_plugin() -> None:
    assert BUILTIN_PLUGINS[0] == ("resources", "runner.resources.builtin.plugin")
    registry = Registry.load(disabled=[])
    assert sorted(registry.resource_types) == NAMES
    (info,) = [p for p in registry.plugins if p.origin.name == "resources"]
    assert sorted(info.resource_types) == NAMES and info.origin.builtin


def test_types_follow_the_contract() -> None:
    for cls in BUILTIN_TYPES:
        assert issubclass(cls, Resource)
        defaults = (cls.default_action,) if isinstance(cls.default_action, str) else cls.default_action
        assert set(defaults) <= set(cls.actions), cls
        assert set(cls.notify_only_actions) <= set(cls.actions), cls
    assert [cls.type_name for cls in BUILTIN_TYPES if cls.batchable] == ["package"]
