"""Cookbooks on disk and the search path that finds them."""

import textwrap
from pathlib import Path

import pytest

from runner.cookbooks import CookbookSet, load_cookbook
from runner.errors import Location, UserError, UserErrors
from runner.model.stack import CookbookSource


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def books(tmp_path):
    """Two cookbook directories; 'web' exists in both."""
    first = tmp_path / "first"
    write(first / "web" / "metadata.yml", "name: web\nversion: 1.2.0\ndepends: [base]\n")
    write(first / "web" / "attributes" / "default.yml", "web: {port: 80}\n")
    write(first / "web" / "recipes" / "default.py", "package('nginx')\n")
    write(first / "web" / "recipes" / "configure.py", "include_recipe('base')\n")
    write(first / "web" / "templates" / "site.conf.j2", "listen {{ port }};\n")
    write(first / "web" / "files" / "robots.txt", "User-agent: *\n")
    write(first / "base" / "recipes" / "default.py", "")
    (first / "notes").mkdir()  # not a cookbook: neither metadata.yml nor recipes/
    second = tmp_path / "second"
    write(second / "web" / "recipes" / "other.py", "")
    write(second / "extra" / "metadata.yml", "name: extra\n")
    return [CookbookSource(first, Location("stack.yml", 5, 7)), CookbookSource(second, Location("stack.yml", 6, 7))]


def test_load_cookbook(books):
    web = load_cookbook(books[0].path / "web")
    assert (web.name, web.version, web.depends) == ("web", "1.2.0", ("base",))
    assert web.attributes == {"web": {"port": 80}}
    assert sorted(web.recipes) == ["configure", "default"]
    assert web.recipes["default"] == books[0].path / "web" / "recipes" / "default.py"
    assert web.templates_dir == books[0].path / "web" / "templates"
    assert web.template("site.conf.j2") == (books[0].path / "web" / "templates" / "site.conf.j2").resolve()
    assert web.file("robots.txt") is not None
    assert web.template("missing.j2") is None
    assert web.template("../recipes/default.py") is None  # no escaping the templates dir
    assert web.depends_locations == (Location(str(books[0].path / "web" / "metadata.yml"), 3, 11),)


def test_metadata_is_optional(books):
    base = load_cookbook(books[0].path / "base")
    assert (base.name, base.version, base.depends, base.attributes) == ("base", "0.0.0", (), {})
    assert base.metadata_path is None
    assert base.templates_dir is None and base.files_dir is None


def test_numeric_version_is_read_as_text(tmp_path):
    write(tmp_path / "cb" / "metadata.yml", "version: 2\n")
    assert load_cookbook(tmp_path / "cb").version == "2"


@pytest.mark.parametrize(
    "file, text, expected",
    [
        ("metadata.yml", "name: cb\ndepend: [base]\n", "metadata.yml:2:1: unknown top-level key 'depend'"
                                                      " (did you mean 'depends'?)"),
        ("metadata.yml", "depends: base\n", "metadata.yml:1:10: depends: expected a list of cookbook names or a"
                                            " mapping of names to version constraints, got string 'base'"),
        ("metadata.yml", "depends: [base, 3]\n", "metadata.yml:1:17: depends[1]: expected a string, got integer 3"),
        ("metadata.yml", "name: [cb]\n", "metadata.yml:1:7: name: expected a string, got a list"),
        ("metadata.yml", "name: cb\n  version: 1\n", "metadata.yml:2:10: invalid YAML: mapping values are not"
                                                   " allowed here"),
        ("attributes/default.yml", "- a\n- b\n", "attributes/default.yml:1:1: attributes must be a mapping"),
        ("attributes/default.yml", "a: {b: 1\n", "attributes/default.yml:2:1: invalid YAML: expected ',' or '}',"
                                                 " but got '<stream end>' (while parsing a flow mapping at line 1)"),
        ("attributes/default.yml", "a: 1\na: 2\n", "attributes/default.yml:2:1: duplicate key 'a'"
                                                   " (first at line 1)"),
    ],
)
def test_broken_metadata_and_attributes_are_located(tmp_path, file, text, expected):
    write(tmp_path / "cb" / file, text)
    with pytest.raises(UserErrors) as info:
        load_cookbook(tmp_path / "cb")
    assert [str(e) for e in info.value.errors] == [f"{tmp_path / 'cb'}/{expected}"]


def test_first_source_wins(books):
    cookbooks = CookbookSet.from_sources(books)
    assert sorted(cookbooks.names) == ["base", "extra", "web"]
    assert cookbooks["web"].path == books[0].path / "web"
    assert "notes" not in cookbooks
    assert len(cookbooks) == 3


def test_missing_source_directory_is_reported_at_the_entry(tmp_path, books):
    missing = CookbookSource(tmp_path / "nowhere", Location("stack.yml", 7, 7))
    with pytest.raises(UserErrors) as info:
        CookbookSet.from_sources([*books, missing])
    assert [str(e) for e in info.value.errors] == [
        f"stack.yml:7:7: cookbook directory '{tmp_path / 'nowhere'}' does not exist"
    ]


def test_same_name_twice_in_one_source(tmp_path):
    write(tmp_path / "src" / "a" / "metadata.yml", "name: app\n")
    write(tmp_path / "src" / "b" / "metadata.yml", "name: app\n")
    with pytest.raises(UserErrors) as info:
        CookbookSet.from_sources([CookbookSource(tmp_path / "src", Location("stack.yml", 3, 5))])
    assert str(info.value) == f"{tmp_path / 'src' / 'b' / 'metadata.yml'}: cookbook 'app' is also defined in " + str(
        tmp_path / "src" / "a"
    )


@pytest.mark.parametrize(
    "ref, cookbook, recipe",
    [("web", "web", "default"), ("web::default", "web", "default"), ("web::configure", "web", "configure")],
)
def test_resolve_recipe(books, ref, cookbook, recipe):
    found = CookbookSet.from_sources(books).resolve_recipe(ref)
    assert (found.cookbook.name, found.recipe, found.name) == (cookbook, recipe, f"{cookbook}::{recipe}")
    assert found.path == books[0].path / cookbook / "recipes" / f"{recipe}.py"


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("wbe", "stack.yml:9:15: unknown cookbook 'wbe' (did you mean 'web'?)"),
        ("zzz::x", "stack.yml:9:15: unknown cookbook 'zzz'"),
        ("web::configur", "stack.yml:9:15: unknown recipe 'web::configur' (did you mean 'web::configure'?)"),
        ("web::deploy", "stack.yml:9:15: unknown recipe 'web::deploy' (cookbook 'web' has: web::configure,"
                        " web::default)"),
        ("extra", "stack.yml:9:15: unknown recipe 'extra::default' (it has no recipes)"),
        ("web::a::b", "stack.yml:9:15: invalid recipe name 'web::a::b' (write 'cookbook' or 'cookbook::recipe')"),
    ],
)
def test_resolve_recipe_errors(books, ref, expected):
    with pytest.raises(UserError) as info:
        CookbookSet.from_sources(books).resolve_recipe(ref, Location("stack.yml", 9, 15))
    assert str(info.value) == expected


def test_resolve_recipe_without_cookbooks_hints_at_the_search_path():
    with pytest.raises(UserError) as info:
        CookbookSet().resolve_recipe("web")
    assert str(info.value) == "unknown cookbook 'web' (no cookbooks found: check stack.cookbooks)"


def test_check_depends(tmp_path):
    write(tmp_path / "src" / "app" / "metadata.yml", "name: app\ndepends:\n  - base\n  - nodjs\n")
    write(tmp_path / "src" / "base" / "recipes" / "default.py")
    write(tmp_path / "src" / "nodejs" / "recipes" / "default.py")
    cookbooks = CookbookSet.from_sources([CookbookSource(tmp_path / "src", Location("stack.yml"))])
    assert [str(e) for e in cookbooks.check_depends()] == [
        f"{tmp_path / 'src' / 'app' / 'metadata.yml'}:4:5: cookbook 'app' depends on unknown cookbook 'nodjs'"
        " (did you mean 'nodejs'?)"
    ]
