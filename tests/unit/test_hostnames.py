"""Hostname themes."""

import re

import pytest

from runner.model.hostnames import LAYER_DEPENDENT, THEMES, assign_hostnames, is_valid_hostname

REQUIRED_THEMES = [
    "Baked_Goods", "Clouds", "European_Cities", "Fruits", "Greek_Deities",
    "Planets_and_Moons", "Roman_Deities", "Wild_Cats", "Cheeses",
]


def test_layer_dependent_numbers_per_layer_in_file_order():
    instances = [("a", "app", None), ("l", "lb", None), ("b", "app", None)]
    assert assign_hostnames(LAYER_DEPENDENT, instances) == {"a": "app1", "l": "lb1", "b": "app2"}


def test_layer_dependent_lowercases_and_replaces_underscores():
    assert assign_hostnames(LAYER_DEPENDENT, [("x", "Web_App", None)]) == {"x": "web-app1"}


def test_explicit_hostnames_are_kept_and_not_reused():
    instances = [("a", "app", "app1"), ("b", "app", None), ("c", "app", "web")]
    assert assign_hostnames(LAYER_DEPENDENT, instances) == {"a": "app1", "b": "app2", "c": "web"}


@pytest.mark.parametrize("theme", REQUIRED_THEMES)
def test_list_themes_have_20_valid_unique_names(theme):
    names = THEMES[theme]
    assert len(names) >= 20
    assert len(set(names)) == len(names)
    assert all(is_valid_hostname(n) and re.fullmatch(r"[a-z0-9-]+", n) for n in names)


def test_list_theme_in_file_order_skipping_taken_names():
    fruits = THEMES["Fruits"]
    instances = [("a", "app", None), ("b", "app", fruits[1]), ("c", "lb", None)]
    assert assign_hostnames("Fruits", instances) == {"a": fruits[0], "b": fruits[1], "c": fruits[2]}


def test_list_theme_running_out_appends_a_number():
    names = THEMES["Cheeses"]
    instances = [(f"i{n}", "app", None) for n in range(len(names) + 2)]
    result = assign_hostnames("Cheeses", instances)
    assert result[f"i{len(names)}"] == f"{names[0]}-2"
    assert result[f"i{len(names) + 1}"] == f"{names[1]}-2"
    assert len(set(result.values())) == len(instances)


def test_assignment_is_deterministic():
    instances = [(f"i{n}", "app", None) for n in range(5)]
    assert assign_hostnames("Clouds", instances) == assign_hostnames("Clouds", list(instances))


def test_unknown_theme_is_a_key_error():
    with pytest.raises(KeyError):
        assign_hostnames("Nope", [])


@pytest.mark.parametrize(
    "name, valid",
    [("app1", True), ("web-1.example.com", True), ("Web1", False), ("web_1", False), ("-web", False), ("", False)],
)
def test_is_valid_hostname(name, valid):
    assert is_valid_hostname(name) is valid
