"""App sources on real hosts: payloads unpacked and remote scripts run over SSH on Docker hosts.

The hosts reach the laptop's HTTP and S3 (moto) servers through a reverse
port forward over the SSH connection: the host's 127.0.0.1:PORT relays to the
laptop's 127.0.0.1:PORT, so URLs and presigned URLs work there unchanged.

Two hosts: ``bare`` is the plain image (python3, no curl, no git), so archive
downloads take the python3 fallback; ``tooled`` gets curl and git from apt.
"""

from __future__ import annotations

import contextlib
import hashlib
import shlex
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sources_support import (
    HOSTILE,
    SOURCE_TYPES,
    aws_environment,
    git,
    http_server,
    make_app,
    make_repo,
    moto_server,
    tar_archive,
    write_tree,
    zip_archive,
)

from runner.sources.api import PreparedSource, prepare_source
from runner.ssh.connection import CommandResult, Connection
from runner.ssh.target import resolve_target

FILES = {"app.py": b"print(1)\n", "bin/run.sh": b"#!/bin/sh\n", f"{HOSTILE}.txt": b"h\n"}


@pytest.fixture(scope="module")
def hosts(docker_hosts_module):
    hosts = docker_hosts_module(names=("bare", "tooled"), layers=("app",))
    with connect(hosts, "tooled") as conn:
        done = conn.run("export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && "
                        "apt-get install -y -qq --no-install-recommends curl git >/dev/null", timeout=600)
        assert done.ok, f"apt-get install curl git on the host failed: {done.stderr.decode()}"
    return hosts


@contextlib.contextmanager
def connect(hosts: Any, name: str) -> Iterator[Connection]:
    with Connection(resolve_target(hosts.stack, hosts.host(name), environ={})) as conn:
        yield conn


def prepare(tmp_path: Path, kind: str, **options: object) -> PreparedSource:
    app, stack = make_app(tmp_path, kind, **options)
    return prepare_source(app, stack, tmp_path / ".runner" / "cache", SOURCE_TYPES)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fill_release(conn: Connection, prepared: PreparedSource) -> str:
    """Fill a fresh release directory on the host the way a deploy would; its path."""
    release = f"/srv/hello/releases/{HOSTILE}-{hashlib.sha1(repr(prepared).encode()).hexdigest()[:8]}"
    setup = f"set -e\nRELEASE={shlex.quote(release)}\nrm -rf \"$RELEASE\"\nmkdir -p \"$RELEASE\"\n"
    if prepared.payload is not None:
        done = conn.run(setup + 'tar -xzf - -C "$RELEASE"', stdin=prepared.payload)
    else:
        assert prepared.remote_script is not None
        done = conn.run(setup + prepared.remote_script, timeout=300)
    assert done.ok, done.stderr.decode()
    return release


def read(conn: Connection, path: str) -> bytes:
    done = conn.run(f"cat {shlex.quote(path)}")
    assert done.ok, done.stderr.decode()
    return done.stdout


def sh(conn: Connection, command: str) -> CommandResult:
    return conn.run(command)


def assert_app_tree(conn: Connection, release: str, top: str = "") -> None:
    """The FILES tree (under ``top``) is in the release, with the executable bit and the hostile name."""
    base = f"{release}/{top}" if top else release
    assert read(conn, f"{base}/bin/run.sh") == b"#!/bin/sh\n"
    assert read(conn, f"{base}/{HOSTILE}.txt") == b"h\n"
    modes = sh(conn, f"stat -c '%a %U' {shlex.quote(base + '/bin/run.sh')} {shlex.quote(base + '/app.py')}").text
    assert modes.split("\n")[:2] == ["755 root", "644 root"]


def assert_no_injection(conn: Connection) -> None:
    found = sh(conn, "ls -A / /root /tmp | grep -x 'pwned[23]*' || true").text
    assert found == ""


# -- a reverse port forward: the host's 127.0.0.1:PORT -> the laptop's 127.0.0.1:PORT --


def _pipe(source: Any, sink: Any) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR) if isinstance(sink, socket.socket) else sink.shutdown_write()


@contextlib.contextmanager
def reverse_forward(conn: Connection, url: str) -> Iterator[None]:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    transport = conn.client.get_transport()  # type: ignore[union-attr]

    def accepted(channel: Any, origin: Any, server: Any) -> None:  # runs in paramiko's thread: do not block
        upstream = socket.create_connection(("127.0.0.1", port), timeout=30)
        for source, sink in ((channel, upstream), (upstream, channel)):
            threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    transport.request_port_forward("127.0.0.1", port, handler=accepted)
    try:
        yield
    finally:
        transport.cancel_port_forward("127.0.0.1", port)


# -- payloads -----------------------------------------------------------------


def test_directory_payload_unpacks_on_the_host(tmp_path: Path, hosts) -> None:
    write_tree(tmp_path / "app")
    prepared = prepare(tmp_path, "directory", path="app")
    with connect(hosts, "bare") as conn:
        release = fill_release(conn, prepared)
        q = shlex.quote
        assert read(conn, f"{release}/{HOSTILE}") == b"hostile\n"
        assert sh(conn, f"test -x {q(release + '/deploy/before_migrate')}").ok
        assert sh(conn, f"readlink {q(release + '/current.py')}").text == "app.py\n"
        assert_no_injection(conn)


def test_git_payload_unpacks_on_the_host(tmp_path: Path, hosts) -> None:
    shas = make_repo(tmp_path / "repo")
    prepared = prepare(tmp_path, "git", url=f"file://{tmp_path}/repo", revision="v1")
    assert prepared.revision == shas["v1"]
    with connect(hosts, "bare") as conn:
        release = fill_release(conn, prepared)
        assert sh(conn, f"test -x {shlex.quote(release + '/src/deploy/before_migrate')}").ok
        assert sh(conn, f"test -e {shlex.quote(release + '/VERSION')}").exit_status == 1  # not in v1


# -- remote fetches -------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path):
    www = tmp_path / "www"
    www.mkdir()
    entries: dict[str, bytes | None] = {f"hello-1.0/{k}": v for k, v in FILES.items()}
    files = {"tgz": tar_archive(www / "hello.tgz", entries), "zip": zip_archive(www / "hello.zip", entries)}
    with http_server(www) as (base, seen):
        yield base, seen, files


@pytest.mark.parametrize("host", ["bare", "tooled"])
@pytest.mark.parametrize("kind", ["tgz", "zip"])
def test_remote_archive_is_downloaded_by_the_host(tmp_path: Path, hosts, served, host: str, kind: str) -> None:
    base, seen, files = served
    url = f"{base}/hello.{kind}?x=$(touch${{IFS}}/pwned)&y='`touch${{IFS}}/pwned2`;'"
    prepared = prepare(tmp_path, "archive", url=url, fetch="remote")
    with connect(hosts, host) as conn, reverse_forward(conn, base):
        release = fill_release(conn, prepared)
        assert read(conn, f"{release}/.runner_checksum").decode() == sha256(files[kind].read_bytes()) + "\n"
        assert_app_tree(conn, release)  # hello-1.0/ stripped
        assert_no_injection(conn)
    assert seen[-1]["user-agent"].startswith("curl" if host == "tooled" else "Python")  # curl, else python3


def test_remote_archive_that_escapes_fails_on_the_host(tmp_path: Path, hosts, served) -> None:
    base, _, files = served
    tar_archive(files["tgz"].parent / "evil.tgz", {"app/../../../etc/evil": b"x"})
    prepared = prepare(tmp_path, "archive", url=f"{base}/evil.tgz", fetch="remote")
    with connect(hosts, "bare") as conn, reverse_forward(conn, base):
        done = conn.run("set -e\nRELEASE=$(mktemp -d)\n" + prepared.remote_script)
        assert done.exit_status != 0 and b"has an absolute path or '..'" in done.stderr
        assert sh(conn, "test -e /etc/evil").exit_status == 1


def test_remote_s3_object_is_downloaded_by_the_host(tmp_path: Path, hosts, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    entries: dict[str, bytes | None] = {f"hello/{k}": v for k, v in FILES.items()}
    archive = tar_archive(tmp_path / "hello.tgz", entries)
    key = f"releases/{HOSTILE}.tgz"
    with moto_server() as endpoint:
        aws_environment(monkeypatch, endpoint)
        client = boto3.client("s3")
        client.create_bucket(Bucket="artifacts")
        put = client.put_object(Bucket="artifacts", Key=key, Body=archive.read_bytes())
        prepared = prepare(tmp_path, "s3", bucket="artifacts", key=key, fetch="remote")
        assert prepared.revision == put["ETag"].strip('"') and prepared.payload is None
        for host in ("bare", "tooled"):
            with connect(hosts, host) as conn, reverse_forward(conn, endpoint):
                release = fill_release(conn, prepared)
                assert read(conn, f"{release}/.runner_checksum").decode() == sha256(archive.read_bytes()) + "\n"
                assert_app_tree(conn, release)
                assert_no_injection(conn)


@pytest.fixture
def remote_repo(tmp_path: Path, hosts) -> tuple[str, dict[str, str]]:
    """A bare repository copied into the tooled host (a tar over SSH); its file:// URL there and its shas."""
    shas = make_repo(tmp_path / "work")
    bare = tmp_path / "bare"
    git(tmp_path, "clone", "--quiet", "--bare", str(tmp_path / "work"), str(bare))
    tree = subprocess.run(["tar", "-cf", "-", "-C", str(bare), "."], capture_output=True, check=True).stdout
    path = f"/srv/repos/{HOSTILE}.git"
    with connect(hosts, "tooled") as conn:
        done = conn.run(f"rm -rf {shlex.quote(path)} && mkdir -p {shlex.quote(path)} && "
                        f"tar -xf - -C {shlex.quote(path)}", stdin=tree)
        assert done.ok, done.stderr.decode()
    return f"file://{path}", shas


@pytest.mark.parametrize("revision, expected", [(None, "main"), ("feature", "feature"), ("v1", "v1"),
                                                ("SHA:v1", "v1")])
def test_remote_git_is_fetched_by_the_host(tmp_path: Path, hosts, remote_repo, revision: str | None,
                                           expected: str) -> None:
    url, shas = remote_repo
    if revision and revision.startswith("SHA:"):
        revision = shas[revision[4:]]
    options = {"url": url, "fetch": "remote"} | ({"revision": revision} if revision else {})
    prepared = prepare(tmp_path, "git", **options)
    local = prepare(tmp_path, "git", url=f"file://{tmp_path}/work", revision=shas[expected])
    with connect(hosts, "tooled") as conn:
        release = fill_release(conn, prepared)
        assert read(conn, f"{release}/.runner_revision").decode() == shas[expected] + "\n"
        assert read(conn, f"{release}/.runner_checksum").decode() == local.checksum + "\n"  # same tree, same sum
        q = shlex.quote
        assert sh(conn, f"test -x {q(release + '/src/deploy/before_migrate')}").ok
        assert sh(conn, f"readlink {q(release + '/src/current.py')}").text == "app.py\n"
        assert read(conn, f"{release}/src/{HOSTILE}") == b"hostile\n"
        assert sh(conn, f"test -e {q(release + '/.git')}").exit_status == 1
        assert sh(conn, f"test -e {q(release + '/feature.txt')}").exit_status == (0 if expected == "feature" else 1)
        assert_no_injection(conn)


def test_remote_git_unknown_revision_fails_on_the_host(tmp_path: Path, hosts, remote_repo) -> None:
    url, _ = remote_repo
    prepared = prepare(tmp_path, "git", url=url, revision="no-such-branch", fetch="remote")
    with connect(hosts, "tooled") as conn:
        done = conn.run("set -e\nRELEASE=$(mktemp -d)\n" + prepared.remote_script)
    assert done.exit_status != 0 and b"git revision no-such-branch not found" in done.stderr


def test_remote_git_without_git_on_the_host_fails_clearly(tmp_path: Path, hosts, remote_repo) -> None:
    url, _ = remote_repo
    prepared = prepare(tmp_path, "git", url=url, fetch="remote")
    assert prepared.needs == ("git",)  # what a caller checks with `command -v` before running the script
    with connect(hosts, "bare") as conn:
        assert sh(conn, "command -v git").exit_status != 0
        done = conn.run("set -e\nRELEASE=$(mktemp -d)\n" + prepared.remote_script)
    assert done.exit_status != 0 and b"git" in done.stderr
