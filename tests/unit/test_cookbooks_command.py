"""`runner cookbooks` (the listing) and `runner cookbooks vendor DIR`, in temp dirs; and `runner validate` on
an unsatisfied version constraint. No host is touched."""

import json
import os
import textwrap
from pathlib import Path

import pytest

from runner.api import Session
from runner.cli.main import main
from runner.cookbooks.vendor import copy_cookbook
from runner.errors import UserError


def book(root: Path, name: str, metadata: str, recipes: tuple[str, ...] = ("default",)) -> Path:
    (root / name / "recipes").mkdir(parents=True)
    for recipe in recipes:
        (root / name / "recipes" / f"{recipe}.py").write_text("")
    (root / name / "metadata.yml").write_text(textwrap.dedent(metadata))
    return root / name


@pytest.fixture
def stack(tmp_path, monkeypatch) -> Path:
    """A stack over two cookbook sources; 'haproxy' is in both (the first one wins)."""
    monkeypatch.chdir(tmp_path)
    book(tmp_path / "site", "web", "version: 1.0.0\ndepends: {haproxy: '>=1.2,<2', base: null}\n")
    book(tmp_path / "site", "haproxy", "version: 1.4.0\ndepends: [base]\n", ("default", "configure"))
    book(tmp_path / "site", "base", "version: 0.1.0\n")
    (tmp_path / "site" / "base" / "templates").mkdir()
    (tmp_path / "site" / "base" / "templates" / "motd.j2").write_text("hi {{ name }}\n")
    book(tmp_path / "community", "haproxy", "version: 2.1.0\n")
    path = tmp_path / "stack.yml"
    path.write_text(textwrap.dedent("""\
        stack:
          name: shop
          provider: static
          cookbooks:
            - path: site
            - path: community
        layers:
          app: {recipes: {setup: [web]}}
          lb: {recipes: {setup: [haproxy], configure: ['haproxy::configure']}}
        """))
    return path


def test_the_listing_as_json(stack, capsys):
    assert main(["cookbooks", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    site, community = str(stack.parent / "site"), str(stack.parent / "community")
    assert report["stack"] == "shop" and report["ok"]
    assert [(c["name"], c["version"], c["source"], c["revision"], c["dependents"], c["layers"])
            for c in report["cookbooks"]] == [
        ("base", "0.1.0", site, None, ["haproxy", "web"], []),
        ("haproxy", "1.4.0", site, None, ["web"], ["lb"]),
        ("web", "1.0.0", site, None, [], ["app"]),
    ]
    assert report["cookbooks"][1]["shadowed"] == [f"2.1.0 in {community}"]


def test_the_listing_as_a_table(stack, capsys):
    assert main(["cookbooks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["COOKBOOK", "VERSION", "SOURCE", "REVISION", "DEPENDED", "ON", "BY", "LAYERS"]
    assert lines[2].split() == ["haproxy", "1.4.0", str(stack.parent / "site"), "-", "web", "lb"]
    assert lines[-1] == f"haproxy: also found, not used (first match wins): 2.1.0 in {stack.parent / 'community'}"


def test_vendor_copies_the_resolved_set(stack, capsys):
    assert main(["cookbooks", "vendor", "out", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    out = stack.parent / "out"
    assert report["directory"] == str(out) and report["files"] == {"base": 3, "haproxy": 3, "web": 2}
    assert sorted(p.name for p in out.iterdir()) == ["base", "haproxy", "web"]
    assert "1.4.0" in (out / "haproxy" / "metadata.yml").read_text()  # the first match, not community's
    assert (out / "base" / "templates" / "motd.j2").read_text() == "hi {{ name }}\n"
    assert [p.name for p in stack.parent.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_vendor_refuses_a_non_empty_directory_unless_forced(stack, capsys):
    out = stack.parent / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine\n")
    assert main(["cookbooks", "vendor", "out"]) == 2
    assert f"runner: {out}: exists and is not empty (--force replaces its content)" in capsys.readouterr().err
    assert (out / "keep.txt").exists()
    assert main(["cookbooks", "vendor", "out", "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["base", "haproxy", "web"]
    assert "vendored 3 cookbooks (8 files) into" in capsys.readouterr().out


def test_vendor_needs_a_directory_and_list_takes_none(stack, capsys):
    assert main(["cookbooks", "vendor"]) == 2
    assert "cookbooks vendor needs a directory" in capsys.readouterr().err
    assert main(["cookbooks", "list", "out"]) == 2


def test_vendor_refuses_a_directory_holding_or_inside_a_cookbook(stack):
    session = Session.open(stack)
    with pytest.raises(UserError, match="holds or lies inside cookbook"):
        session.vendor_cookbooks(stack.parent / "site" / "web" / "vendor")
    with pytest.raises(UserError, match="holds or lies inside cookbook"):
        session.vendor_cookbooks(stack.parent, force=True)  # would replace the sources themselves
    assert (stack.parent / "site" / "web" / "metadata.yml").exists()


def test_links_inside_a_cookbook_are_kept_and_links_out_of_it_refused(tmp_path):
    web = book(tmp_path / "src", "web", "version: 1.0\n")
    (web / "files").mkdir()
    (web / "files" / "a.conf").write_text("a\n")
    os.symlink("a.conf", web / "files" / "b.conf")
    os.symlink("../recipes", web / "files" / "recipes")
    copied = copy_cookbook(web, tmp_path / "copy")
    assert copied == 5
    assert os.readlink(tmp_path / "copy" / "files" / "b.conf") == "a.conf"
    assert os.readlink(tmp_path / "copy" / "files" / "recipes") == "../recipes"
    outside = tmp_path / "secret"
    outside.write_text("s3cr3t\n")
    os.symlink(outside, web / "files" / "leak")
    with pytest.raises(UserError, match="leaves the cookbook"):
        copy_cookbook(web, tmp_path / "copy2")


def test_a_link_out_of_a_cookbook_leaves_the_target_untouched(stack, capsys):
    os.symlink("/etc/hostname", stack.parent / "site" / "base" / "templates" / "host")
    out = stack.parent / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine\n")
    assert main(["cookbooks", "vendor", "out", "--force"]) == 2
    assert "leaves the cookbook" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert [p.name for p in stack.parent.iterdir() if p.name.startswith(".")] == []


def test_validate_exits_2_on_an_unsatisfied_constraint(stack, capsys):
    web = stack.parent / "site" / "web" / "metadata.yml"
    web.write_text("version: 1.0.0\ndepends: {haproxy: '>=2', base: null}\n")
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert (f"{web}:2:11: cookbook version not satisfied: stack uses web (run list of layer app) -> web 1.0.0 "
            f"depends on haproxy >=2 -> found haproxy 1.4.0 in {stack.parent / 'site'} (haproxy 2.1.0 in "
            f"{stack.parent / 'community'} would satisfy it: list {stack.parent / 'community'} before "
            f"{stack.parent / 'site'} in stack.cookbooks)") in err
    assert "Traceback" not in err


def test_validate_exits_2_on_a_bad_version(stack, capsys):
    (stack.parent / "site" / "base" / "metadata.yml").write_text("version: 'one'\n")
    assert main(["validate"]) == 2
    assert "site/base/metadata.yml:1:10: version: invalid version 'one'" in capsys.readouterr().err
