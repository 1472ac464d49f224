"""Attribute merging and precedence."""

from runner.cookbooks.attributes import merge_attributes
from runner.model.merge import deep_merge


def test_deep_merge_merges_dicts_and_replaces_the_rest():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1, "c": {"k": 1}}
    override = {"a": {"y": [3], "z": 3}, "b": {"now": "a dict"}, "c": "scalar"}
    assert deep_merge(base, override) == {"a": {"x": 1, "y": [3], "z": 3}, "b": {"now": "a dict"}, "c": "scalar"}


def test_deep_merge_leaves_its_inputs_alone():
    base = {"a": {"x": [1]}}
    override = {"a": {"y": {"z": 1}}}
    result = deep_merge(base, override)
    result["a"]["x"].append(2)
    result["a"]["y"]["z"] = 2
    assert base == {"a": {"x": [1]}}
    assert override == {"a": {"y": {"z": 1}}}


def test_five_levels_lowest_first():
    cookbook = [{"port": 1, "cb": "c1", "nested": {"cookbook": 1, "who": "cookbook"}}, {"cb": "c2"}]
    stack = {"port": 2, "stack": True, "nested": {"who": "stack"}}
    layers = [{"port": 3, "nested": {"who": "layer-a"}}, {"port": 31, "layer_b": True}]
    instance = {"port": 4, "nested": {"who": "instance"}}
    command = {"port": 5}
    merged = merge_attributes(cookbook, stack, layers, instance, command)
    assert merged == {
        "port": 5,
        "cb": "c2",
        "stack": True,
        "layer_b": True,
        "nested": {"cookbook": 1, "who": "instance"},
    }


def test_each_level_beats_the_ones_below():
    levels = ["cookbook", "stack", "layer", "instance", "command"]
    for top in range(len(levels)):
        values = [{"who": name} if i <= top else {} for i, name in enumerate(levels)]
        merged = merge_attributes([values[0]], values[1], [values[2]], values[3], values[4])
        assert merged == {"who": levels[top]}


def test_missing_levels_are_fine():
    assert merge_attributes([], None, [], None, None) == {}
