"""provider_options at three levels (stack, layer, instance) and the provider's own check of them."""

import textwrap
from pathlib import Path

import pytest

from runner.cookbooks.validate import load_and_validate
from runner.errors import UserErrors
from runner.model.loader import load_stack
from runner.providers.api import Provider

STACK = """\
stack:
  name: po
  provider: fake
  provider_options: {size: small, tags: {team: a}, zone: z1}
layers:
  web:
    provider_options: {size: medium, tags: {role: web}}
  db:
    provider_options: {size: large, zone: z2}
  bare: {}
instances:
  web1: {layers: [web, db]}
  db1: {layers: [db], provider_options: {size: huge, tags: {team: b}}}
  plain: {layers: [bare]}
"""


class FakeProvider(Provider):
    name = "fake"
    option_types = {"size": (str,), "tags": (dict,), "zone": (str,), "count": (int,)}

    @classmethod
    def check_option(cls, key, value):
        return "must be one of small, medium, large, huge" if key == "size" and value == "giant" else None

    def status(self, names=None):
        return []

    def start(self, names=None):
        return []

    def stop(self, names=None):
        return []


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stack.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_instance_over_layer_over_stack_first_layer_wins(tmp_path):
    stack = load_stack(write(tmp_path, STACK))
    assert stack.provider_options_for("web1") == {"size": "medium", "tags": {"team": "a", "role": "web"}, "zone": "z2"}
    assert stack.provider_options_for("db1") == {"size": "huge", "tags": {"team": "b"}, "zone": "z2"}
    assert stack.provider_options_for("plain") == {"size": "small", "tags": {"team": "a"}, "zone": "z1"}
    assert FakeProvider(stack).options_for("web1")["size"] == "medium"


def test_valid_options_pass(tmp_path):
    load_and_validate(write(tmp_path, STACK), known_providers={"fake": FakeProvider})


def errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(UserErrors) as info:
        load_and_validate(write(tmp_path, text), known_providers={"fake": FakeProvider})
    return [str(e) for e in info.value.errors]


def test_unknown_and_wrong_typed_options_are_located_at_every_level(tmp_path):
    text = STACK.replace("zone: z1}", "zone: z1, sise: s}").replace("{size: large, zone: z2}", "{size: 3}")
    text = text.replace("provider_options: {size: huge", "provider_options: {count: true, size: giant")
    found = errors(tmp_path, text)
    assert any("stack.yml:4:" in e and "unknown fake provider option 'sise'" in e and "did you mean 'size'" in e
               for e in found), found
    assert any("stack.yml:9:" in e and "'size' must be a string, not an integer" in e for e in found), found
    assert any("stack.yml:13:" in e and "'count' must be an integer, not a boolean" in e for e in found), found
    assert any("stack.yml:13:" in e and "must be one of small" in e for e in found), found


def test_a_provider_without_option_types_takes_anything(tmp_path):
    class Loose(FakeProvider):
        option_types = None

    load_and_validate(write(tmp_path, STACK.replace("zone: z1}", "anything: [1]}")), known_providers={"fake": Loose})


def test_provider_names_as_a_set_skip_the_option_check(tmp_path):
    load_and_validate(write(tmp_path, STACK.replace("zone: z1}", "anything: 1}")), known_providers={"fake"})
