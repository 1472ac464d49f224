"""Hostname themes."""

import re

import pytest

from runner.model.hostnames import LAYER_DEPENDENT, THEMES, assign_hostnames, is_valid_hostname

#: the OpsWorks API's theme names, exactly as it spelled them, plus our own Cheeses
OPSWORKS_THEMES = [
    "Layer_Dependent", "Baked_Goods", "Clouds", "Europe_Cities", "Fruits", "Greek_Deities_and_Titans",
    "Legendary_creatures_from_Japan", "Planets_and_Moons", "Roman_Deities", "Scottish_Islands", "US_Cities",
    "Wild_Cats",
]
REQUIRED_THEMES = [t for t in OPSWORKS_THEMES if t != LAYER_DEPENDENT] + ["Cheeses"]
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def test_every_opsworks_theme_and_cheeses_and_nothing_else():
    assert sorted(THEMES) == sorted(OPSWORKS_THEMES + ["Cheeses"])


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
    assert all(is_valid_hostname(n) and _LABEL.fullmatch(n) for n in names), [
        n for n in names if not _LABEL.fullmatch(n)]


@pytest.mark.parametrize("theme", REQUIRED_THEMES)
def test_theme_names_stay_valid_labels_when_numbered(theme):
    instances = [(f"i{n}", "app", None) for n in range(2 * len(THEMES[theme]) + 1)]
    names = assign_hostnames(theme, instances).values()
    assert len(set(names)) == len(instances)
    assert all(_LABEL.fullmatch(n) for n in names)


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


@pytest.mark.parametrize("old, new", [("European_Cities", "Europe_Cities"),
                                      ("Greek_Deities", "Greek_Deities_and_Titans")])
def test_old_theme_spelling_fails_validation_with_exit_2(tmp_path, monkeypatch, capsys, old, new):
    from runner.cli.main import main

    (tmp_path / "stack.yml").write_text(f"stack:\n  name: x\n  hostname_theme: {old}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert f"stack.yml:3:19: stack.hostname_theme: unknown hostname theme '{old}'" in err
    assert f"did you mean '{new}'?" in err
    assert "Traceback" not in err
