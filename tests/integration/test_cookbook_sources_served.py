"""Cookbooks from a git daemon, an HTTP server and S3 (moto's server), locked, and run on a Docker host.

The servers are real and local: ``git daemon`` on 127.0.0.1 serving a bare
repository, http.server in a thread, moto in server mode. Fetch times are
printed (``-s`` shows them) for the issue's closing note.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sources_support import aws_environment, http_server, moto_server

from runner.cookbooks.lock import read_lock
from runner.cookbooks.resolve import load_cookbooks, update
from runner.errors import UserError
from runner.model.loader import load_stack

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env={**GIT_ENV, "HOME": str(repo)}).stdout.strip()


def write_cookbook(root: Path, name: str, marker: str) -> None:
    (root / name / "recipes").mkdir(parents=True, exist_ok=True)
    (root / name / "metadata.yml").write_text(f"name: {name}\nversion: 1.0.0\n")
    (root / name / "recipes" / "default.py").write_text(f'file("/opt/{name}", content="{marker}\\n")\n')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """``git daemon`` serving every repository under ``base`` on 127.0.0.1: its git:// base URL."""
    port = free_port()
    daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", f"--base-path={base}", "--export-all",
                               "--listen=127.0.0.1", f"--port={port}", str(base)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # bounded: 10 s for the daemon to listen
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("git daemon did not listen within 10 s")
        yield f"git://127.0.0.1:{port}"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


@pytest.fixture
def served_repo(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A work tree with cookbooks alpha and beta, pushed to a bare repo that git daemon serves: (URL, work)."""
    work, bare = tmp_path / "work", tmp_path / "served" / "cookbooks.git"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    write_cookbook(work, "alpha", "alpha-1")
    write_cookbook(work, "beta", "beta-1")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "one")
    bare.parent.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, capture_output=True)
    git(work, "remote", "add", "origin", str(bare))
    with git_daemon(bare.parent) as base:
        yield f"{base}/cookbooks.git", work


def stack_file(directory: Path, entries: list[dict], layer_recipes: list[str] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "stack.yml"
    path.write_text(yaml.safe_dump({"stack": {"name": "s", "cookbooks": entries}}))
    return path


def timed(label: str, action):  # noqa: ANN001, ANN201 - a test helper
    started = time.monotonic()
    result = action()
    print(f"\nfetch time, {label}: {time.monotonic() - started:.3f} s", file=sys.stderr)
    return result


def runner_cli(stack: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *args, "-f", str(stack)], capture_output=True, text=True,
                          timeout=600)


def test_git_daemon_source_locks_and_update_moves_one_cookbook(tmp_path: Path, served_repo: tuple[str, Path]) -> None:
    url, work = served_repo
    stack = load_stack(stack_file(tmp_path / "stack", [{"git": url, "ref": "main"}]))
    books = timed("git daemon (first clone)", lambda: load_cookbooks(stack))
    assert sorted(books.names) == ["alpha", "beta"]
    first = git(work, "rev-parse", "HEAD")
    write_cookbook(work, "alpha", "alpha-2")
    write_cookbook(work, "beta", "beta-2")
    git(work, "commit", "-q", "-am", "two")
    git(work, "push", "-q", "origin", "main")
    second = git(work, "rev-parse", "HEAD")
    proc = runner_cli(stack.path, "update-cookbooks", "alpha")
    assert proc.returncode == 0, proc.stderr
    assert f"{first[:12]} -> {second[:12]}" in proc.stdout and "alpha" in proc.stdout
    lock = read_lock(stack.directory / "cookbooks.lock")
    assert lock is not None
    assert lock.cookbooks["alpha"].revision == second and lock.cookbooks["beta"].revision == first
    timed("git daemon (mirror fetch, nothing new)", lambda: update(stack))


def test_a_changed_cache_fails_every_command_with_exit_2(tmp_path: Path, served_repo: tuple[str, Path]) -> None:
    url, _work = served_repo
    stack = load_stack(stack_file(tmp_path / "stack", [{"git": url}]))
    books = load_cookbooks(stack)
    (books["beta"].path / "recipes" / "default.py").write_text("print('tampered')\n")
    proc = runner_cli(stack.path, "validate")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cookbook 'beta'" in proc.stderr and "runner update-cookbooks beta" in proc.stderr
    # and what it says mends it: the changed copy is fetched again and replaced whole
    mended = runner_cli(stack.path, "update-cookbooks", "beta")
    assert mended.returncode == 0, mended.stdout + mended.stderr
    assert runner_cli(stack.path, "validate").returncode == 0
    assert "tampered" not in (books["beta"].path / "recipes" / "default.py").read_text()


def test_unreachable_git_daemon_leaves_cache_and_lock(tmp_path: Path, served_repo: tuple[str, Path]) -> None:
    url, _work = served_repo
    path = stack_file(tmp_path / "stack", [{"git": url}])
    load_cookbooks(load_stack(path))
    lock_before = (path.parent / "cookbooks.lock").read_text()
    cached = sorted(p.name for p in (path.parent / ".runner" / "cookbooks").iterdir())
    path.write_text(path.read_text().replace(url, f"git://127.0.0.1:{free_port()}/cookbooks.git"))
    proc = runner_cli(path, "update-cookbooks")
    assert proc.returncode == 2 and f"{path}:" in proc.stderr and "git failed" in proc.stderr, proc.stderr
    assert (path.parent / "cookbooks.lock").read_text() == lock_before
    assert sorted(p.name for p in (path.parent / ".runner" / "cookbooks").iterdir()) == cached


def archive_of(tmp_path: Path, name: str) -> Path:
    tree = tmp_path / "tree"
    write_cookbook(tree / "top", "gamma", "gamma-1")
    archive = tmp_path / "www" / name
    archive.parent.mkdir(exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree / "top", arcname="top")
    return archive


def test_archive_over_http_and_a_404(tmp_path: Path) -> None:
    archive = archive_of(tmp_path, "cookbooks.tgz")
    with http_server(archive.parent) as (base, _seen):
        stack = load_stack(stack_file(tmp_path / "stack", [{"archive": f"{base}/cookbooks.tgz"}]))
        books = timed("http archive", lambda: load_cookbooks(stack))
        assert books.names == ["gamma"]
        entry = read_lock(stack.directory / "cookbooks.lock").cookbooks["gamma"]  # type: ignore[union-attr]
        assert entry.revision == f"{base}/cookbooks.tgz" and entry.archive_sha256
        missing = load_stack(stack_file(tmp_path / "other", [{"archive": f"{base}/missing.tgz"}]))
        with pytest.raises(UserError, match="404") as caught:
            load_cookbooks(missing)
        assert caught.value.location is not None and caught.value.location.line == 3
        assert not (missing.directory / "cookbooks.lock").exists()


def test_archive_in_s3_on_moto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    archive = archive_of(tmp_path, "cookbooks.tgz")
    with moto_server() as endpoint:
        aws_environment(monkeypatch, "http://127.0.0.1:1")  # the entry's endpoint_url must win
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="books")
        client.put_object(Bucket="books", Key="cb/cookbooks.tgz", Body=archive.read_bytes())
        stack = load_stack(stack_file(tmp_path / "stack", [{"s3": "s3://books/cb/cookbooks.tgz",
                                                            "endpoint_url": endpoint}]))
        books = timed("s3 (moto server)", lambda: load_cookbooks(stack))
        assert books.names == ["gamma"]
        entry = read_lock(stack.directory / "cookbooks.lock").cookbooks["gamma"]  # type: ignore[union-attr]
        assert entry.revision and entry.archive_sha256


def archive_with(tmp_path: Path, name: str, marker: str) -> Path:
    """A .tgz holding one cookbook under one top directory, as OpsWorks' demo archives are made."""
    tree = tmp_path / f"tree-{name}"
    write_cookbook(tree / "top", name, marker)
    archive = tmp_path / "www" / f"{name}.tgz"
    archive.parent.mkdir(exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree / "top", arcname="top")
    return archive


def test_converge_runs_recipes_from_git_http_and_s3(docker_hosts, tmp_path: Path, served_repo: tuple[str, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    url, _work = served_repo
    from_http = archive_with(tmp_path, "gamma", "gamma-http")
    from_s3 = archive_with(tmp_path, "delta", "delta-s3")
    with http_server(from_http.parent) as (base, _seen), moto_server() as endpoint:
        aws_environment(monkeypatch, endpoint)  # the runner subprocess inherits the credentials
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="books")
        boto3.client("s3", endpoint_url=endpoint).put_object(Bucket="books", Key="delta.tgz",
                                                              Body=from_s3.read_bytes())
        entries = [{"git": url, "ref": "main"}, {"archive": f"{base}/gamma.tgz"},
                   {"s3": "s3://books/delta.tgz", "endpoint_url": endpoint}]
        hosts = docker_hosts(1, config={"stack": {"cookbooks": entries},
                                        "layers": {"app": {"recipes": {"configure": ["alpha", "gamma", "delta"]}}}})
        proc = runner_cli(hosts.stack.path, "converge")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    host = hosts.names[0]
    assert [hosts.exec(host, "cat", f"/opt/{n}").stdout for n in ("alpha", "gamma", "delta")] == [
        "alpha-1\n", "gamma-http\n", "delta-s3\n"]
    lock = read_lock(hosts.stack.directory / "cookbooks.lock")
    assert lock is not None and {"alpha", "delta", "gamma"} <= set(lock.cookbooks)
    # the servers are gone: a second converge needs no network, everything is cached and locked
    again = runner_cli(hosts.stack.path, "converge")
    assert again.returncode == 0, again.stdout + again.stderr
    listed = runner_cli(hosts.stack.path, "cookbooks", "--format", "json")
    rows = {c["name"]: c for c in json.loads(listed.stdout)["cookbooks"]}
    assert rows["alpha"]["revision"] == lock.cookbooks["alpha"].revision and rows["gamma"]["source"].startswith(
        "archive http://127.0.0.1:")
