"""Validation against cookbooks and plugins; the shipped examples."""

import textwrap
from pathlib import Path

import pytest

from runner.cookbooks import CookbookSet
from runner.cookbooks.validate import include_calls, load_and_validate, validate_stack
from runner.errors import UserErrors
from runner.model.loader import load_stack
from runner.sources.plugin import BUILTIN_SOURCES

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = {"static", "docker"}
STRATEGIES = {"all_at_once", "rolling", "blue_green"}
SOURCES = {kind.name: kind.declaration() for kind in BUILTIN_SOURCES}

STACK = """\
stack:
  name: v
  provider: docker
  cookbooks: [{path: cookbooks}]
layers:
  app:
    recipes:
      setup: [web, web::configure]
apps:
  hello:
    layers: [app]
    source: {type: git, url: u}
    deploy: {strategy: rolling}
"""


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "cookbooks" / "web" / "metadata.yml", "name: web\ndepends: [base]\n")
    write(tmp_path / "cookbooks" / "web" / "recipes" / "default.py", "include_recipe('base')\npackage('nginx')\n")
    write(tmp_path / "cookbooks" / "web" / "recipes" / "configure.py", "service('nginx')\n")
    write(tmp_path / "cookbooks" / "base" / "recipes" / "default.py", "package('curl')\n")
    write(tmp_path / "stack.yml", STACK)
    return tmp_path


def errors_of(text: str | None = None, **known) -> list[str]:
    if text is not None:
        Path("stack.yml").write_text(text)
    with pytest.raises(UserErrors) as info:
        load_and_validate("stack.yml", **known)
    return [str(e) for e in info.value.errors]


def test_valid_stack(project):
    stack = load_and_validate("stack.yml", PROVIDERS, STRATEGIES)
    assert stack.name == "v"


def test_missing_recipe_is_reported_at_the_recipe(project):
    assert errors_of(STACK.replace("web::configure", "web::configur")) == [
        "stack.yml:8:20: unknown recipe 'web::configur' (did you mean 'web::configure'?)"
    ]


def test_unknown_cookbook_is_reported_at_the_recipe(project):
    assert errors_of(STACK.replace("[web,", "[wbe,")) == [
        "stack.yml:8:15: unknown cookbook 'wbe' (did you mean 'web'?)"
    ]


def test_unknown_provider(project):
    assert errors_of(STACK.replace("docker", "dokcer"), known_providers=PROVIDERS) == [
        "stack.yml:3:13: unknown provider 'dokcer' (did you mean 'docker'?)"
    ]
    assert errors_of(STACK.replace("docker", "cloud"), known_providers=PROVIDERS) == [
        "stack.yml:3:13: unknown provider 'cloud' (expected one of: docker, static)"
    ]


def test_provider_and_strategy_are_not_checked_without_known_sets(project):
    Path("stack.yml").write_text(STACK.replace("docker", "cloud").replace("rolling", "canary"))
    assert load_and_validate("stack.yml").provider == "cloud"


def test_unknown_strategy(project):
    assert errors_of(STACK.replace("rolling", "roling"), known_strategies=STRATEGIES) == [
        "stack.yml:13:24: unknown deployment strategy 'roling' (did you mean 'rolling'?)"
    ]


def test_unknown_strategy_when_none_is_installed(project):
    assert errors_of(known_strategies=set()) == [
        "stack.yml:13:24: unknown deployment strategy 'rolling' (no deployment strategy plugin is installed)"
    ]


def test_missing_depends_is_reported_in_metadata(project):
    write(project / "cookbooks" / "web" / "metadata.yml", "name: web\ndepends: [base, ssl]\n")
    assert errors_of() == [
        f"{project / 'cookbooks' / 'web' / 'metadata.yml'}:2:17: cookbook 'web' depends on unknown cookbook 'ssl'"
    ]


def test_include_recipe_that_does_not_resolve_is_reported_in_the_recipe(project):
    recipe = write(
        project / "cookbooks" / "web" / "recipes" / "configure.py",
        """\
        service("nginx")
        if node.get("tls"):
            include_recipe("web::tsl")
        include_recipe(node["extra"])  # not a literal: left to run time
        """,
    )
    assert errors_of() == [
        f"{recipe}:3:5: unknown recipe 'web::tsl' (cookbook 'web' has: web::configure, web::default)"
    ]


def test_include_recipe_is_followed_transitively(project):
    write(project / "cookbooks" / "base" / "recipes" / "default.py", "include_recipe('base::common')\n")
    write(project / "cookbooks" / "base" / "recipes" / "common.py", "include_recipe('nope')\n")
    common = project / "cookbooks" / "base" / "recipes" / "common.py"
    assert errors_of() == [f"{common}:1:1: unknown cookbook 'nope'"]


def test_include_recipe_cycles_terminate(project):
    write(project / "cookbooks" / "base" / "recipes" / "default.py", "include_recipe('web')\n")
    assert load_and_validate("stack.yml").name == "v"


def test_recipe_with_a_syntax_error(project):
    recipe = write(project / "cookbooks" / "web" / "recipes" / "configure.py", "service('nginx'\n")
    assert errors_of() == [f"{recipe}:1:8: invalid Python in recipe: '(' was never closed"]


def test_missing_cookbook_directory(project):
    assert errors_of(STACK.replace("path: cookbooks", "path: cookbook")) == [
        f"stack.yml:4:15: cookbook directory '{project / 'cookbook'}' does not exist"
    ]


def test_validate_stack_returns_every_error(project):
    Path("stack.yml").write_text(STACK.replace("[web, web::configure]", "[web::x, nope]").replace("rolling", "r"))
    stack = load_stack("stack.yml")
    cookbooks = CookbookSet.from_sources(stack.cookbooks)
    errors = validate_stack(stack, cookbooks, known_providers={"static"}, known_strategies=STRATEGIES)
    assert [str(e) for e in errors] == [
        "stack.yml:8:15: unknown recipe 'web::x' (cookbook 'web' has: web::configure, web::default)",
        "stack.yml:8:23: unknown cookbook 'nope'",
        "stack.yml:3:13: unknown provider 'docker' (expected one of: static)",
        "stack.yml:13:24: unknown deployment strategy 'r' (expected one of: all_at_once, blue_green, rolling)",
    ]


def test_include_calls_in_line_order(tmp_path):
    recipe = write(tmp_path / "r.py", "if x:\n    include_recipe('b')\ninclude_recipe('a', 1)\nother('c')\n")
    assert [(ref, loc.line, loc.column) for ref, loc in include_calls(recipe)] == [("b", 2, 5), ("a", 3, 1)]


# -- the shipped examples -------------------------------------------------------


@pytest.mark.parametrize("name", ["demo", "static"])
def test_examples_load_and_validate(name):
    stack = load_and_validate(ROOT / "examples" / name / "stack.yml", PROVIDERS, STRATEGIES, known_sources=SOURCES)
    assert stack.layers and stack.instances and stack.apps
    assert stack.apps["hello"].source.options["path"] == ROOT / "apps" / "hello"
    assert (ROOT / "apps" / "hello" / "server.py").is_file()


def test_demo_example_shape():
    stack = load_stack(ROOT / "examples" / "demo" / "stack.yml")
    assert stack.provider == "docker"
    assert {n: i.hostname for n, i in stack.instances.items()} == {"app1": "app1", "app2": "app2", "lb1": "lb1"}
    assert stack.apps["hello"].deploy.strategy == "rolling"


def test_static_example_has_loopback_addresses():
    stack = load_stack(ROOT / "examples" / "static" / "stack.yml")
    assert stack.provider == "static"
    assert {i.address for i in stack.instances.values()} == {"127.0.0.1"}
    assert all(i.port for i in stack.instances.values())


@pytest.mark.parametrize(
    "name, expected",
    [
        ("bad_yaml.yml", "bad_yaml.yml:7:1: invalid YAML: expected ',' or '}', but got '<stream end>'"
                         " (while parsing a flow mapping at line 6)"),
        ("unknown_key.yml", "unknown_key.yml:8:5: layers.app: unknown key 'recipe' (did you mean 'recipes'?)"),
        ("missing_recipe.yml", "missing_recipe.yml:9:21: unknown recipe 'nodejs_demo::deplyo'"
                               " (did you mean 'nodejs_demo::deploy'?)"),
    ],
)
def test_broken_examples(monkeypatch, name, expected):
    monkeypatch.chdir(ROOT / "examples" / "broken")
    with pytest.raises(UserErrors) as info:
        load_and_validate(name, PROVIDERS, STRATEGIES, known_sources=SOURCES)
    assert [str(e) for e in info.value.errors] == [expected]


def test_stack_errors_and_recipe_errors_are_reported_together_in_file_order(project):
    text = STACK.replace("web::configure", "web::configur").replace("  provider: docker\n", "  provder: docker\n")
    text = text.replace("deploy: {strategy: rolling}", "deploy: {strategy: roling}")
    assert errors_of(text, known_strategies=STRATEGIES) == [
        "stack.yml:3:3: stack: unknown key 'provder' (did you mean 'provider'?)",
        "stack.yml:8:20: unknown recipe 'web::configur' (did you mean 'web::configure'?)",
        "stack.yml:13:24: unknown deployment strategy 'roling' (did you mean 'rolling'?)",
    ]


def test_errors_in_an_included_file_and_in_recipes_are_sorted_by_file_then_position(project):
    write(project / "more.yml", "layers:\n  db:\n    recipes: {setup: [base::nope]}\n    pakages: [pg]\n")
    text = STACK.replace("web::configure", "web::configur") + "include: [more.yml]\n"
    assert errors_of(text) == [
        "more.yml:3:23: unknown recipe 'base::nope' (cookbook 'base' has: base::default)",
        "more.yml:4:5: layers.db: unknown key 'pakages' (did you mean 'packages'?)",
        "stack.yml:8:20: unknown recipe 'web::configur' (did you mean 'web::configure'?)",
    ]


def test_recipes_are_not_checked_when_the_cookbooks_setting_is_broken(project):
    text = STACK.replace("cookbooks: [{path: cookbooks}]", "cookbooks: [{path: cookbooks}, {pth: more}]")
    assert errors_of(text) == [
        "stack.yml:4:34: stack.cookbooks[1]: a cookbook source needs one of path, git, archive, s3, package",
        "stack.yml:4:35: stack.cookbooks[1]: unknown key 'pth' (did you mean 'path'?)",
    ]


def test_a_missing_cookbook_directory_is_reported_with_the_stack_errors(project):
    text = STACK.replace("{path: cookbooks}", "{path: cookbookz}").replace("name: v\n", "name: v\n  nme: w\n")
    assert errors_of(text) == [
        "stack.yml:3:3: stack: unknown key 'nme' (did you mean 'name'?)",
        f"stack.yml:5:15: cookbook directory '{project / 'cookbookz'}' does not exist",
    ]
