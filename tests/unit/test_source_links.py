"""Symlinks pointing outside the release are refused at prepare time, for every source type, and on the host.

A release may link to its own files; a link to an absolute path, or one whose
relative target climbs above the release root, is a UserError naming the
app, the link and its target, before any host is touched.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from sources_support import (
    SOURCE_TYPES,
    git,
    http_server,
    make_app,
    run_remote_script,
    tar_archive,
    tar_listing,
    write_tree,
)

from runner.errors import UserError
from runner.sources.api import PreparedSource, prepare_source
from runner.sources.links import escaping_link


def prepare(tmp_path: Path, kind: str, **options: object) -> PreparedSource:
    app, stack = make_app(tmp_path, kind, **options)
    return prepare_source(app, stack, tmp_path / ".runner" / "cache", SOURCE_TYPES)


def refused(tmp_path: Path, kind: str, link: str, target: str, **options: object) -> UserError:
    with pytest.raises(UserError) as caught:
        prepare(tmp_path, kind, **options)
    error = caught.value
    assert "app 'hello'" in error.message and f"symlink '{link}' -> '{target}'" in error.message, error.message
    assert "points outside the release" in error.message
    assert error.location is not None and "stack.yml" in str(error.location)
    return error


@pytest.mark.parametrize("links, escaping", [
    ({"current.py": "app.py", "deploy/run": "../bin/run", "lib": "src/lib", "here": "."}, None),
    ({"config": "/etc/victimcfg"}, ("config", "/etc/victimcfg")),
    ({"up": ".."}, ("up", "..")),
    ({"deep/x": "../../etc"}, ("deep/x", "../../etc")),
    ({"a/b/c": "../../../x"}, ("a/b/c", "../../../x")),
    ({"a/b/c": "../../x"}, None),  # a/b/c -> x, inside
    ({"back": "../releases/1/app.py"}, ("back", "../releases/1/app.py")),  # climbs out, even to come back
    # through another link of the tree: sub/up resolves to the root, so two levels up is outside it
    ({"sub/up": "..", "x": "sub/up/.."}, ("x", "sub/up/..")),
    ({"sub/up": "..", "x": "sub/up/app.py"}, None),
    ({"d": "a/b", "x": "d/../.."}, None),  # d -> a/b, then a, then the root: inside
    ({"d": "a", "a": "/etc", "x": "d/passwd"}, ("a", "/etc")),
    ({"loop": "loop2", "loop2": "loop"}, None),  # a loop reaches nothing
])
def test_escaping_link_follows_the_trees_links_like_the_kernel(links: dict[str, str],
                                                               escaping: tuple[str, str] | None) -> None:
    assert escaping_link(links) == escaping


def test_directory_with_a_link_outside_is_refused_with_app_link_and_target(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app")
    (root / "config").symlink_to("/etc/victimcfg")
    refused(tmp_path, "directory", "config", "/etc/victimcfg", path="app")
    (root / "config").unlink()
    (root / "deploy" / "up").symlink_to("../../../outside")
    refused(tmp_path, "directory", "deploy/up", "../../../outside", path="app")


def test_links_inside_the_release_stay_allowed(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app")
    (root / "src").mkdir()
    (root / "config").symlink_to("src")
    (root / "deploy" / "app").symlink_to("../app.py")
    listing = tar_listing(prepare(tmp_path, "directory", path="app").payload)
    assert listing["config"] == ("symlink", 0o777, "src")
    assert listing["deploy/app"] == ("symlink", 0o777, "../app.py")
    assert listing["current.py"] == ("symlink", 0o777, "app.py")


@pytest.mark.parametrize("target", ["/etc/victimcfg", "../../etc"])
def test_tar_archive_with_a_link_outside_is_refused(tmp_path: Path, target: str) -> None:
    tar_archive(tmp_path / "a.tgz", {"hello-1.0/app.py": b"x"}, symlinks={"hello-1.0/config": target})
    error = refused(tmp_path, "archive", "config", target, path="a.tgz")
    assert "refusing" in error.message


def test_zip_archive_with_a_link_outside_is_refused(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as archive:
        archive.writestr("app.py", b"x")
        link = zipfile.ZipInfo("config")
        link.external_attr = (0o120777) << 16
        archive.writestr(link, "/etc/victimcfg")
    refused(tmp_path, "archive", "config", "/etc/victimcfg", path="a.zip")


def test_git_tree_with_a_link_outside_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "app.py").write_text("x\n")
    (repo / "config").symlink_to("/etc/victimcfg")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "evil")
    refused(tmp_path, "git", "config", "/etc/victimcfg", url=f"file://{repo}")


def test_remote_archive_with_a_link_outside_is_refused_on_the_host(tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    tar_archive(www / "evil.tgz", {"hello-1.0/app.py": b"x"}, symlinks={"hello-1.0/config": "/etc/victimcfg"})
    release = tmp_path / "release"
    release.mkdir()
    with http_server(www) as (base, _):
        prepared = prepare(tmp_path, "archive", url=f"{base}/evil.tgz", fetch="remote")  # nothing to check here
        done = run_remote_script(prepared.remote_script, release)
    assert done.returncode != 0
    assert "'config' -> '/etc/victimcfg' points outside the release" in done.stderr, done.stderr
    assert not os.listdir(release)  # nothing unpacked, not even app.py
