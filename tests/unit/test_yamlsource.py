"""YAML loading with positions: values, keys, and located errors."""

import pytest

from runner.errors import Location, UserError, UserErrors
from runner.model.yamlsource import load_yaml, parse_yaml

DOC = """\
stack:
  name: demo
  ports: [22, 2222]
layers:
  app:
    recipes:
      setup:
        - base
        - nodejs_demo::setup
"""


def test_converts_to_plain_values():
    doc = parse_yaml(DOC, "stack.yml")
    assert doc.data == {
        "stack": {"name": "demo", "ports": [22, 2222]},
        "layers": {"app": {"recipes": {"setup": ["base", "nodejs_demo::setup"]}}},
    }


@pytest.mark.parametrize(
    "path, value_at, key_at",
    [
        (("stack",), (2, 3), (1, 1)),
        (("stack", "name"), (2, 9), (2, 3)),
        (("stack", "ports", 1), (3, 15), (3, 15)),
        (("layers", "app", "recipes", "setup", 0), (8, 11), (8, 11)),
        (("layers", "app", "recipes", "setup", 1), (9, 11), (9, 11)),
        (("layers", "app", "recipes"), (7, 7), (6, 5)),
    ],
)
def test_records_value_and_key_locations(path, value_at, key_at):
    doc = parse_yaml(DOC, "stack.yml")
    assert doc.value_at(*path) == Location("stack.yml", *value_at)
    assert doc.key_at(*path) == Location("stack.yml", *key_at)


def test_unknown_path_falls_back_to_nearest_enclosing_value():
    doc = parse_yaml(DOC, "stack.yml")
    assert doc.value_at("stack", "name", "nope") == Location("stack.yml", 2, 9)
    assert doc.value_at("nothing") == Location("stack.yml", 1, 1)


def test_merge_keys_are_resolved_and_explicit_keys_win():
    doc = parse_yaml("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n", "f.yml")
    assert doc.data["c"] == {"x": 1, "y": 3}
    assert doc.value_at("c", "y") == Location("f.yml", 4, 6)
    assert doc.value_at("c", "x") == Location("f.yml", 1, 14)
    assert not any("<<" in path for path in doc.values)


def test_empty_document_is_none():
    assert parse_yaml("# nothing\n", "f.yml").data is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a: [1, 2\n", "stack.yml:2:1: invalid YAML: expected ',' or ']', but got '<stream end>'"
                       " (while parsing a flow sequence at line 1)"),
        ("a: b: c\n", "stack.yml:1:5: invalid YAML: mapping values are not allowed here"),
        ("a: 1\n\tb: 2\n", "stack.yml:2:1: invalid YAML: found character '\\t' that cannot start any token"),
        ("a: 1\n---\nb: 2\n", "stack.yml:2:1: invalid YAML: expected a single document in the stream,"
                              " but found another document"),
    ],
)
def test_broken_yaml_is_located_at_the_problem(text, expected):
    with pytest.raises(UserError) as info:
        parse_yaml(text, "stack.yml")
    assert str(info.value) == expected


def test_duplicate_key_is_reported_at_the_second_key():
    with pytest.raises(UserErrors) as info:
        parse_yaml("layers:\n  app: {}\n  db: {}\n  app: {}\n", "stack.yml")
    assert [str(e) for e in info.value.errors] == ["stack.yml:4:3: duplicate key 'app' (first at line 2)"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("80: http\n", "stack.yml:1:1: mapping keys must be strings, got integer 80"),
        ("a:\n  true: 1\n", "stack.yml:2:3: mapping keys must be strings, got boolean true"),
        ("a:\n  null: 1\n", "stack.yml:2:3: mapping keys must be strings, got null"),
        ("? [a, b]\n: 1\n", "stack.yml:1:3: mapping keys must be strings, got a list"),
    ],
)
def test_non_string_keys_are_errors(text, expected):
    with pytest.raises(UserErrors) as info:
        parse_yaml(text, "stack.yml")
    assert [str(e) for e in info.value.errors] == [expected]


def test_all_key_errors_are_collected():
    with pytest.raises(UserErrors) as info:
        parse_yaml("a: 1\na: 2\n1: x\n", "f.yml")
    assert [str(e) for e in info.value.errors] == [
        "f.yml:2:1: duplicate key 'a' (first at line 1)",
        "f.yml:3:1: mapping keys must be strings, got integer 1",
    ]


def test_load_yaml_names_the_file_as_given(tmp_path):
    (tmp_path / "m.yml").write_text("name: x\nname: y\n")
    with pytest.raises(UserErrors) as info:
        load_yaml(tmp_path / "m.yml", display="m.yml")
    assert str(info.value) == "m.yml:2:1: duplicate key 'name' (first at line 1)"


def test_load_yaml_missing_file(tmp_path):
    with pytest.raises(UserError) as info:
        load_yaml(tmp_path / "nope.yml", display="nope.yml")
    assert str(info.value) == "nope.yml: cannot read file: No such file or directory"
