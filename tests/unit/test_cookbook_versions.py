"""Cookbook versions and depends constraints (PEP 440): reading metadata.yml, and checking the found set."""

import textwrap
from pathlib import Path

import pytest

from runner.cookbooks import CookbookSet, load_cookbook
from runner.cookbooks.cookbook import Dependency
from runner.errors import Location, UserErrors
from runner.model.stack import CookbookSource


def book(root: Path, name: str, metadata: str) -> Path:
    """A cookbook ``root/name`` with this metadata.yml and an empty default recipe."""
    (root / name / "recipes").mkdir(parents=True)
    (root / name / "recipes" / "default.py").write_text("")
    (root / name / "metadata.yml").write_text(textwrap.dedent(metadata))
    return root / name


def errors_of(directory: Path) -> list[str]:
    with pytest.raises(UserErrors) as info:
        load_cookbook(directory)
    return [str(e).removeprefix(f"{directory}/") for e in info.value.errors]


def test_a_mapping_of_constraints_and_a_list_of_names(tmp_path):
    web = load_cookbook(book(tmp_path, "web", """\
        version: 1.0.0
        depends:
          haproxy: ">=1.2,<2"
          base: null
          tools: ""
        """))
    assert web.dependencies == (Dependency("haproxy", ">=1.2,<2"), Dependency("base"), Dependency("tools"))
    assert web.depends == ("haproxy", "base", "tools")
    assert web.depends_locations[0] == Location(str(tmp_path / "web" / "metadata.yml"), 3, 3)
    assert [str(d) for d in web.dependencies] == ["haproxy >=1.2,<2", "base", "tools"]
    assert web.dependencies[0].accepts("1.4.0") and not web.dependencies[0].accepts("2.0")
    assert web.dependencies[1].accepts("0.0.1")
    listed = load_cookbook(book(tmp_path, "api", "depends: [base, web]\n"))
    assert listed.dependencies == (Dependency("base"), Dependency("web"))
    assert listed.version == "0.0.0"


def test_a_pre_release_is_a_version_like_any_other():
    assert Dependency("haproxy", ">=1.0").accepts("2.0.0rc1")


@pytest.mark.parametrize("metadata, expected", [
    ("version: banana\n", "metadata.yml:1:10: version: invalid version 'banana' (write a PEP 440 version such as"
                          " '1.2.0' (quoted when YAML would read it as a number))"),
    ("version: 1.0.0\ndepends: {haproxy: '>>2'}\n",
     "metadata.yml:2:20: depends.haproxy: invalid version constraint '>>2' (write PEP 440 specifiers separated by"
     " commas, such as '>=1.2,<2' or '==1.4.*')"),
    ("depends:\n  haproxy: '1.2'\n", "metadata.yml:2:12: depends.haproxy: invalid version constraint '1.2'"
                                     " (write PEP 440 specifiers separated by commas, such as '>=1.2,<2' or"
                                     " '==1.4.*')"),
    ("depends:\n  haproxy: 2\n", "metadata.yml:2:12: depends.haproxy: expected a version constraint such as"
                                 " '>=1.2,<2' (quoted), got integer 2 (null or '' means any version)"),
    ("depends: 3\n", "metadata.yml:1:10: depends: expected a list of cookbook names or a mapping of names to"
                     " version constraints, got integer 3"),
])
def test_bad_versions_and_constraints_are_located(tmp_path, metadata, expected):
    assert errors_of(book(tmp_path, "web", metadata)) == [expected]


def test_every_bad_entry_is_reported(tmp_path):
    found = errors_of(book(tmp_path, "web", "version: x\ndepends: {a: '=<1', b: '>=1', c: '~=1'}\n"))
    assert [e.split(":", 3)[3].split("(")[0].strip() for e in found] == [
        "version: invalid version 'x'", "depends.a: invalid version constraint '=<1'",
        "depends.c: invalid version constraint '~=1'"]


def test_numeric_versions_read_by_yaml_are_checked_as_text(tmp_path):
    assert load_cookbook(book(tmp_path, "web", "version: 1.5\n")).version == "1.5"


# -- the found set --------------------------------------------------------------------------


def sources(*roots: Path) -> list[CookbookSource]:
    return [CookbookSource(root, Location("stack.yml", i + 5, 7)) for i, root in enumerate(roots)]


def messages(cookbooks: CookbookSet, used_by: dict[str, str] | None = None) -> list[str]:
    return [str(e) for e in cookbooks.check_depends(used_by)]


def test_satisfied_constraints_are_no_error(tmp_path):
    book(tmp_path / "a", "web", "version: 1.0.0\ndepends: {haproxy: '>=1.2,<2', base: null}\n")
    book(tmp_path / "a", "haproxy", "version: 1.4.0\n")
    book(tmp_path / "a", "base", "version: 0.1.0\n")
    assert messages(CookbookSet.from_sources(sources(tmp_path / "a"))) == []


def test_an_unsatisfied_constraint_names_the_chain_from_the_stack(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    book(first, "app", "version: 3.0\ndepends: [web]\n")
    web = book(first, "web", "version: 1.0.0\ndepends:\n  haproxy: '>=2'\n")
    book(first, "haproxy", "version: 1.4.0\n")
    book(second, "haproxy", "version: 1.2.0\n")
    cookbooks = CookbookSet.from_sources(sources(first, second))
    assert messages(cookbooks, {"app": "run list of layer app"}) == [
        f"{web}/metadata.yml:3:3: cookbook version not satisfied: stack uses app (run list of layer app) -> "
        f"app 3.0 depends on web -> web 1.0.0 depends on haproxy >=2 -> found haproxy 1.4.0 in {first} "
        f"(no source has haproxy >=2; versions found: 1.4.0 in {first}, 1.2.0 in {second})"]
    assert messages(cookbooks)[0].split(": ", 2)[2].startswith(  # not reached from the stack: said so
        "web (in no run list of the stack) -> web 1.0.0 depends on haproxy >=2 -> found haproxy 1.4.0")


def test_a_later_source_that_would_satisfy_it_is_suggested(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    book(first, "web", "version: 1.0.0\ndepends: {haproxy: '>=2'}\n")
    book(first, "haproxy", "version: 1.4.0\n")
    book(second, "haproxy", "version: 2.1.0\n")
    cookbooks = CookbookSet.from_sources(sources(first, second))
    assert [c.version for c in cookbooks.candidates("haproxy")] == ["1.4.0", "2.1.0"]
    [message] = messages(cookbooks, {"web": "run list of layer app"})
    assert message.endswith(f"-> found haproxy 1.4.0 in {first} (haproxy 2.1.0 in {second} would satisfy it: "
                            f"list {second} before {first} in stack.cookbooks)")


def test_two_constraints_no_found_version_satisfies_together(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    book(first, "web", "version: 1.0.0\ndepends: {haproxy: '>=2'}\n")
    book(first, "api", "version: 0.3.0\ndepends: {haproxy: '<2'}\n")
    book(first, "haproxy", "version: 1.4.0\n")
    book(second, "haproxy", "version: 2.1.0\n")
    [message] = messages(CookbookSet.from_sources(sources(first, second)),
                         {"web": "run list of layer app", "api": "run list of layer api"})
    assert "stack uses web (run list of layer app) -> web 1.0.0 depends on haproxy >=2 -> found haproxy 1.4.0" \
        in message
    assert message.endswith(f"(it conflicts with api 0.3.0 depends on haproxy <2: no haproxy found satisfies both "
                            f"(1.4.0 in {first}, 2.1.0 in {second}))")


def test_the_unknown_dependency_error_stays(tmp_path):
    book(tmp_path, "web", "depends: {haproxy: '>=2'}\n")
    book(tmp_path, "haproxi", "version: 2.0\n")
    assert messages(CookbookSet.from_sources(sources(tmp_path))) == [
        f"{tmp_path}/web/metadata.yml:1:11: cookbook 'web' depends on unknown cookbook 'haproxy'"
        " (did you mean 'haproxi'?)"]


def test_each_cookbook_knows_its_source_and_its_dependents(tmp_path):
    book(tmp_path / "a", "web", "depends: [base]\n")
    book(tmp_path / "a", "api", "depends: {base: '>=0'}\n")
    book(tmp_path / "a", "base", "version: 1.0\n")
    cookbooks = CookbookSet.from_sources(sources(tmp_path / "a"))
    assert cookbooks["base"].source == str(tmp_path / "a")
    assert sorted(c.name for c in cookbooks.dependents("base")) == ["api", "web"]
    assert cookbooks.dependents("web") == []
