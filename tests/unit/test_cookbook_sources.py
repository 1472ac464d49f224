"""stack.cookbooks sources beyond path: the model, the tree hash, the lock, resolution from it.

Real git repositories (git init in tmp_path, file:// URLs) and local archives; no network.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from runner.cookbooks.fetch import tree_sha256
from runner.cookbooks.lock import Lock, LockedCookbook, LockedSource, read_lock, write_lock
from runner.cookbooks.resolve import cookbook_dirs, load_cookbooks, update
from runner.errors import UserError, UserErrors
from runner.model.loader import load_stack


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                               "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(repo), "PATH": "/usr/bin:/bin"})
    return done.stdout.strip()


def cookbook(root: Path, name: str, recipe: str = "log('hi')\n", version: str = "1.0.0") -> None:
    (root / name / "recipes").mkdir(parents=True, exist_ok=True)
    (root / name / "metadata.yml").write_text(f"name: {name}\nversion: {version}\n")
    (root / name / "recipes" / "default.py").write_text(recipe)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    cookbook(path / "site", "alpha")
    cookbook(path / "site", "beta")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "one")
    return path


def commit(repo: Path, relative: str, text: str) -> str:
    (repo / relative).write_text(text)
    git(repo, "commit", "-q", "-am", "more")
    return git(repo, "rev-parse", "HEAD")


def stack_file(tmp_path: Path, entries: str) -> Path:
    path = tmp_path / "stack" / "stack.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"stack:\n  name: s\n  cookbooks:\n{entries}")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(UserErrors) as caught:
        load_stack(path)
    return [str(e) for e in caught.value.errors]


# -- the model ---------------------------------------------------------------------------------


def test_each_kind_is_read_with_its_options(tmp_path: Path) -> None:
    path = stack_file(tmp_path, "    - ../cb\n    - {path: ../cb}\n"
                                "    - {git: 'file:///r', ref: v1, subdirectory: site}\n"
                                "    - {archive: cb.tgz}\n    - {s3: 's3://b/k.tgz', endpoint_url: 'http://h:1'}\n"
                                "    - {package: runner-community}\n")
    sources = load_stack(path).cookbooks
    assert [s.kind for s in sources] == ["path", "path", "git", "archive", "s3", "package"]
    assert sources[0].path == sources[1].path == tmp_path / "cb"
    assert sources[2].options == {"git": "file:///r", "ref": "v1", "subdirectory": "site"}
    assert sources[2].path is None and sources[2].index == 2


@pytest.mark.parametrize("entry, message", [
    ("{git: 'file:///r', archive: a.tgz}", "stack.yml:4:7: stack.cookbooks[0]: one source per entry: both 'git' and "
                                           "'archive' are given"),
    ("{git: 'file:///r', branch: main}", "stack.yml:4:26: stack.cookbooks[0]: unknown key 'branch'"),
    ("{git: 'file:///r', subdirectory: ../up}", "stack.yml:4:40: stack.cookbooks[0].subdirectory: subdirectory "
                                                "'../up' must stay inside the fetched tree"),
    ("{archive: 'ftp://h/a.tgz'}", "stack.yml:4:17: stack.cookbooks[0].archive: archive must be a file or an "
                                   "http(s) URL"),
    ("{archive: a.rar}", "stack.yml:4:17: stack.cookbooks[0].archive: archive 'a.rar' is not a .tar.gz"),
    ("{s3: 'http://b/k'}", "stack.yml:4:12: stack.cookbooks[0].s3: expected s3://BUCKET/KEY"),
    ("{package: [a]}", "stack.yml:4:17: stack.cookbooks[0].package: expected a string"),
    ("{path: x, ref: main}", "stack.yml:4:17: stack.cookbooks[0]: unknown key 'ref'"),
])
def test_bad_entries_are_located(tmp_path: Path, entry: str, message: str) -> None:
    path = stack_file(tmp_path, f"    - {entry}\n")
    found = [text.removeprefix(f"{path.parent}/") for text in errors_of(path)]
    assert len(found) == 1 and found[0].startswith(message), found


# -- the tree hash and the lock ----------------------------------------------------------------


def test_tree_hash_covers_paths_modes_and_contents(tmp_path: Path) -> None:
    cookbook(tmp_path, "a")
    first = tree_sha256(tmp_path / "a")
    assert tree_sha256(tmp_path / "a") == first
    (tmp_path / "a" / "recipes" / "default.py").chmod(0o755)
    moded = tree_sha256(tmp_path / "a")
    (tmp_path / "a" / "recipes" / "default.py").write_text("log('other')\n")
    assert len({first, moded, tree_sha256(tmp_path / "a")}) == 3
    (tmp_path / "a" / "recipes" / "default.py").rename(tmp_path / "a" / "recipes" / "other.py")
    assert tree_sha256(tmp_path / "a") not in (first, moded)


def test_lock_round_trips_sorted(tmp_path: Path) -> None:
    lock = Lock({"b": LockedCookbook("b", "1.0", {"archive": "x.tgz"}, "x.tgz", "sha256:1", "sha256:2"),
                 "a": LockedCookbook("a", "2.0", {"git": "u", "ref": "main"}, "f" * 40, "sha256:3")},
                [LockedSource({"git": "u", "ref": "main"}, ("a",)), LockedSource({"archive": "x.tgz"}, ("b",))])
    write_lock(tmp_path / "cookbooks.lock", lock)
    text = (tmp_path / "cookbooks.lock").read_text()
    assert text.startswith("# cookbooks.lock") and text.index("  a:") < text.index("  b:")
    assert read_lock(tmp_path / "cookbooks.lock") == lock
    assert read_lock(tmp_path / "none.lock") is None
    (tmp_path / "bad.lock").write_text("cookbooks: [1]\n")
    with pytest.raises(UserError, match="is not a cookbooks lock"):
        read_lock(tmp_path / "bad.lock")


# -- resolution ----------------------------------------------------------------------------------


def test_path_only_stacks_get_no_lock(tmp_path: Path) -> None:
    cookbook(tmp_path / "cb", "alpha")
    stack = load_stack(stack_file(tmp_path, "    - ../cb\n"))
    assert cookbook_dirs(stack) == list(stack.cookbooks)
    assert update(stack) == []
    assert not (stack.directory / "cookbooks.lock").exists()


def test_git_source_is_fetched_once_locked_and_then_read_offline(tmp_path: Path, repo: Path) -> None:
    stack = load_stack(stack_file(tmp_path, f"    - {{git: 'file://{repo}', ref: main, subdirectory: site}}\n"))
    books = load_cookbooks(stack)
    assert sorted(books.names) == ["alpha", "beta"]
    lock = read_lock(stack.directory / "cookbooks.lock")
    assert lock is not None and lock.cookbooks["alpha"].revision == git(repo, "rev-parse", "HEAD")
    assert lock.cookbooks["alpha"].sha256 == tree_sha256(books["alpha"].path)
    assert ".runner/cookbooks/alpha-" in str(books["alpha"].path)
    (repo / ".git").rename(repo / "gone")  # the server is gone: the cache and the lock are enough
    assert sorted(load_cookbooks(stack).names) == ["alpha", "beta"]


def test_a_changed_cache_is_exit_2_naming_the_cookbook(tmp_path: Path, repo: Path) -> None:
    stack = load_stack(stack_file(tmp_path, f"    - {{git: 'file://{repo}', subdirectory: site}}\n"))
    books = load_cookbooks(stack)
    (books["beta"].path / "recipes" / "default.py").write_text("log('changed')\n")
    with pytest.raises(UserError, match=r"cookbook 'beta' .* hashes to .* as cookbooks.lock says") as caught:
        load_cookbooks(stack)
    assert caught.value.hint is not None and "runner update-cookbooks beta" in caught.value.hint
    assert caught.value.exit_code == 2


def test_a_source_not_in_the_lock_is_exit_2(tmp_path: Path, repo: Path) -> None:
    path = stack_file(tmp_path, f"    - {{git: 'file://{repo}', subdirectory: site}}\n")
    load_cookbooks(load_stack(path))
    path.write_text(path.read_text().replace("subdirectory: site", "subdirectory: site, ref: main"))
    with pytest.raises(UserError, match="is not in cookbooks.lock") as caught:
        load_cookbooks(load_stack(path))
    assert str(caught.value).startswith(f"{path}:4:")


def test_update_of_one_name_moves_only_it(tmp_path: Path, repo: Path) -> None:
    stack = load_stack(stack_file(tmp_path, f"    - {{git: 'file://{repo}', subdirectory: site}}\n"))
    load_cookbooks(stack)
    first = git(repo, "rev-parse", "HEAD")
    second = commit(repo, "site/alpha/recipes/default.py", "log('two')\n")
    commit(repo, "site/beta/recipes/default.py", "log('two')\n")
    third = git(repo, "rev-parse", "HEAD")
    moves = {m.name: m for m in update(stack, names=["alpha"])}
    assert (moves["alpha"].before, moves["alpha"].after, moves["alpha"].result) == (first, third, "updated")
    assert moves["beta"].result == "up to date"
    lock = read_lock(stack.directory / "cookbooks.lock")
    assert lock is not None and lock.cookbooks["beta"].revision == first and second != third
    books = load_cookbooks(stack)
    assert "two" in (books["alpha"].path / "recipes" / "default.py").read_text()
    assert "two" not in (books["beta"].path / "recipes" / "default.py").read_text()


def test_missing_cache_is_fetched_at_the_locked_commit(tmp_path: Path, repo: Path) -> None:
    import shutil

    stack = load_stack(stack_file(tmp_path, f"    - {{git: 'file://{repo}', subdirectory: site}}\n"))
    load_cookbooks(stack)
    commit(repo, "site/alpha/recipes/default.py", "log('two')\n")
    shutil.rmtree(stack.state_dir)
    books = load_cookbooks(stack)  # a fresh checkout with a committed lock: the locked commit, not HEAD
    assert "two" not in (books["alpha"].path / "recipes" / "default.py").read_text()


def test_unknown_ref_and_unreachable_repo_leave_the_lock(tmp_path: Path, repo: Path) -> None:
    path = stack_file(tmp_path, f"    - {{git: 'file://{repo}', subdirectory: site}}\n")
    load_cookbooks(load_stack(path))
    before = (path.parent / "cookbooks.lock").read_text()
    path.write_text(path.read_text().replace("subdirectory: site", "subdirectory: site, ref: nope"))
    with pytest.raises(UserError, match="git revision 'nope' not found") as caught:
        update(load_stack(path))
    assert str(caught.value).startswith(f"{path}:4:")
    path.write_text(path.read_text().replace(f"file://{repo}", f"file://{tmp_path}/nowhere"))
    with pytest.raises(UserError, match="git failed"):
        update(load_stack(path))
    assert (path.parent / "cookbooks.lock").read_text() == before


def tgz(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def test_local_archive_under_one_top_directory(tmp_path: Path) -> None:
    (tmp_path / "stack").mkdir()
    tgz(tmp_path / "stack" / "cb.tgz", {"top/demo/recipes/default.py": b"log('x')\n",
                                        "top/demo/metadata.yml": b"name: demo\nversion: 0.3.0\n"})
    stack = load_stack(stack_file(tmp_path, "    - {archive: cb.tgz}\n"))
    assert load_cookbooks(stack)["demo"].version == "0.3.0"
    entry = read_lock(stack.directory / "cookbooks.lock").cookbooks["demo"]  # type: ignore[union-attr]
    assert entry.revision == "cb.tgz" and entry.archive_sha256 and entry.archive_sha256.startswith("sha256:")


@pytest.mark.parametrize("members, links, message", [
    ({"../evil/recipes/default.py": b""}, None, "absolute path or '..'"),
    ({"/abs/recipes/default.py": b""}, None, "absolute path or '..'"),
    ({"cb/recipes/default.py": b""}, {"cb/files": "/etc"}, "points outside"),
    ({"cb/recipes/default.py": b""}, {"cb/up": "../../.."}, "points outside"),
])
def test_unsafe_archives_are_refused(tmp_path: Path, members: dict[str, bytes], links: dict[str, str] | None,
                                     message: str) -> None:
    (tmp_path / "stack").mkdir()
    tgz(tmp_path / "stack" / "cb.tgz", members, links)
    stack = load_stack(stack_file(tmp_path, "    - {archive: cb.tgz}\n"))
    with pytest.raises(UserError, match=message) as caught:
        load_cookbooks(stack)
    assert str(caught.value).startswith(f"{stack.path}:4:")
    assert not (stack.directory / "cookbooks.lock").exists()


def test_truncated_archive_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "stack").mkdir()
    whole = tgz(tmp_path / "stack" / "cb.tgz", {"cb/recipes/default.py": b"x" * 5000}).read_bytes()
    (tmp_path / "stack" / "cb.tgz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UserError, match="is not a .tar.gz"):
        load_cookbooks(load_stack(stack_file(tmp_path, "    - {archive: cb.tgz}\n")))


def test_package_source_needs_an_installed_plugin_distribution(tmp_path: Path) -> None:
    from runner.plugin.registry import Registry

    stack = load_stack(stack_file(tmp_path, "    - {package: no-such-dist}\n"))
    with pytest.raises(UserError, match="no installed runner plugin comes from distribution 'no-such-dist'"):
        load_cookbooks(stack, Registry.load())


def test_package_source_takes_the_cookbooks_its_plugin_ships(tmp_path: Path) -> None:
    import types

    import pluggy

    from runner import hookimpl, hookspecs
    from runner.plugin.manager import PluginOrigin
    from runner.plugin.registry import Registry

    cookbook(tmp_path / "shipped", "community")
    plugin = types.ModuleType("community_plugin")
    plugin.runner_cookbooks = hookimpl(lambda: [tmp_path / "shipped"])  # type: ignore[attr-defined]
    pm = pluggy.PluginManager("runner")
    pm.add_hookspecs(hookspecs)
    pm.register(plugin, name="community")
    registry = Registry(pm, {"community": PluginOrigin("community", "Runner_Community", "1.0", "m", False)})
    stack = load_stack(stack_file(tmp_path, "    - {package: runner-community}\n"))
    assert load_cookbooks(stack, registry).names == ["community"]
    entry = read_lock(stack.directory / "cookbooks.lock").cookbooks["community"]  # type: ignore[union-attr]
    assert entry.source == {"package": "runner-community"}
    (tmp_path / "shipped" / "community" / "recipes" / "default.py").write_text("log('upgraded')\n")
    with pytest.raises(UserError, match="cookbook 'community'"):
        load_cookbooks(stack, registry)
