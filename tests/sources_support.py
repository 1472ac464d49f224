"""Helpers for the app source tests: stacks, archives, git repositories, a local HTTP server, moto."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import os
import subprocess
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runner.model.stack import App, AppSource, Stack
from runner.sources.plugin import BUILTIN_SOURCES

#: the built-in source types by name, as the registry's ``app_sources`` holds them
SOURCE_TYPES = {kind.name: kind for kind in BUILTIN_SOURCES}

# A file name that breaks any shell command that does not quote it (no '/' and no newline: zip and git dislike them)
HOSTILE = "we ird 'q' \"dq\" $(touch pwned) `touch pwned2`; touch pwned3 &"


def make_app(directory: Path, kind: str, **options: Any) -> tuple[App, Stack]:
    app = App("hello", ("app",), AppSource(kind, dict(options)))
    return app, Stack("demo", directory / "stack.yml", apps={"hello": app})


def write_tree(root: Path) -> Path:
    """A small app: a script, an executable deploy hook, a symlink and a hostile name."""
    (root / "deploy").mkdir(parents=True)
    (root / "app.py").write_text("print('hello')\n")
    (root / "deploy" / "before_migrate").write_text("#!/bin/sh\necho migrating\n")
    (root / "deploy" / "before_migrate").chmod(0o755)
    (root / HOSTILE).write_text("hostile\n")
    (root / "current.py").symlink_to("app.py")
    return root


def tar_archive(path: Path, entries: dict[str, bytes | None], mode: str = "w:gz",
                symlinks: dict[str, str] | None = None) -> Path:
    """A tar with ``entries`` (name -> content, None for a directory) written as given, unchecked."""
    with tarfile.open(path, mode) as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o755 if name.endswith(".sh") else 0o644
                tar.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def zip_archive(path: Path, entries: dict[str, bytes | None]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name + ("/" if data is None else ""))
            info.external_attr = (0o40755 if data is None else 0o100755 if name.endswith(".sh") else 0o100644) << 16
            archive.writestr(info, data or b"")
    return path


def git(cwd: Path, *argv: str) -> str:
    environ = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com", GIT_CONFIG_NOSYSTEM="1",
                   HOME=str(cwd))
    done = subprocess.run(["git", *argv], cwd=cwd, env=environ, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_repo(path: Path) -> dict[str, str]:
    """A repository on branch main: v1 (tagged), then v2; a branch 'feature' from v1. Returns the shas."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    write_tree(path / "src")
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", "v1")
    git(path, "tag", "v1")
    shas = {"v1": git(path, "rev-parse", "HEAD")}
    git(path, "checkout", "--quiet", "-b", "feature")
    (path / "feature.txt").write_text("feature\n")
    git(path, "add", "feature.txt")
    git(path, "commit", "--quiet", "-m", "feature")
    shas["feature"] = git(path, "rev-parse", "HEAD")
    git(path, "checkout", "--quiet", "main")
    (path / "VERSION").write_text("2\n")
    git(path, "add", "VERSION")
    git(path, "commit", "--quiet", "-m", "v2")
    shas["main"] = git(path, "rev-parse", "HEAD")
    return shas


class _Handler(http.server.SimpleHTTPRequestHandler):
    seen: list[dict[str, str]]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        super().do_GET()

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass


@contextlib.contextmanager
def http_server(directory: Path) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Serve ``directory`` on 127.0.0.1 (a free port) in a thread: (base URL, the requests seen)."""
    seen: list[dict[str, str]] = []
    handler = type("Handler", (_Handler,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 in server mode on 127.0.0.1 (a free port): its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def aws_environment(monkeypatch: Any, endpoint: str) -> None:
    """Point boto3 at moto through the standard variables only, and away from any real config."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask 169.254.169.254 for credentials


def tar_listing(payload: bytes) -> dict[str, tuple[str, int, bytes | str | None]]:
    """name -> (kind, mode, data) of a gzip'd tar payload."""
    listing: dict[str, tuple[str, int, bytes | str | None]] = {}
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
        for info in tar.getmembers():
            if info.isdir():
                listing[info.name] = ("dir", info.mode, None)
            elif info.issym():
                listing[info.name] = ("symlink", info.mode, info.linkname)
            else:
                listing[info.name] = ("file", info.mode, tar.extractfile(info).read())  # type: ignore[union-attr]
    return listing


def run_remote_script(script: str, release: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a remote script here with sh, as a host would (set -e, RELEASE set)."""
    environ = dict(os.environ, **({"PATH": path} if path is not None else {}))
    wrapper = f'set -e\nRELEASE="$1"\n{script}\n'
    return subprocess.run(["sh", "-c", wrapper, "sh", str(release)], capture_output=True, text=True, env=environ,
                          timeout=120)
