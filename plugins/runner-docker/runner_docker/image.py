"""The host image: Debian bookworm with sshd, python3 and sudo, built without a registry.

No image registry can be assumed reachable, so the root file system is made
with ``mmdebstrap`` from this machine's own apt sources and turned into an
image by importing it into the daemon (the Docker SDK's ``import_image``,
streamed from the tarball on disk). Where mmdebstrap is missing, the Dockerfile in
``image_files/`` (``FROM debian:bookworm-slim``) is built instead.

The tag carries a hash of every build input, so changing a package or a file
in ``image_files/`` makes a new tag and thus a rebuild; an existing tag is
reused at once. Run ``python -m runner_docker.image [--rebuild]`` to build by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

from runner.errors import RunnerError, UserError
from runner_docker.client import DockerError, calling, client, image_exists

SUITE = "bookworm"
VARIANT = "minbase"
PACKAGES: tuple[str, ...] = ("openssh-server", "python3", "sudo", "procps", "iproute2", "ca-certificates")
IMAGE_NAME = "runner-host"
ENTRYPOINT = "/usr/local/sbin/runner-host-init"
MMDEBSTRAP_TIMEOUT = 900.0
IMPORT_TIMEOUT = 300.0

Progress = Callable[[str], None]


def image_files() -> dict[str, bytes]:
    """The files the image is built from (init script, customize script, Dockerfile), by name."""
    folder = resources.files("runner_docker") / "image_files"
    return {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")}


def image_tag(files: dict[str, bytes] | None = None) -> str:
    """``runner-host:bookworm-<hash>``: the hash covers suite, variant, packages and image files."""
    digest = hashlib.sha256()
    digest.update(f"{SUITE}\n{VARIANT}\n{','.join(PACKAGES)}\n{ENTRYPOINT}\n".encode())
    for name, content in sorted((files if files is not None else image_files()).items()):
        digest.update(f"{name}\n{len(content)}\n".encode())
        digest.update(content)
    return f"{IMAGE_NAME}:{SUITE}-{digest.hexdigest()[:10]}"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "runner"


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """Hold an exclusive lock so two processes never build the image at once."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "host-image.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_image(rebuild: bool = False, progress: Progress = print) -> str:
    """Return the tag of the host image, building it first when it is missing (or ``rebuild``)."""
    files = image_files()
    tag = image_tag(files)
    if not rebuild and image_exists(tag):
        return tag
    with build_lock():
        if not rebuild and image_exists(tag):  # another process built it while we waited
            return tag
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="runner-image-") as tmp:
            work = Path(tmp)
            for name, content in files.items():
                path = work / name
                path.write_bytes(content)
                path.chmod(0o755)
            if shutil.which("mmdebstrap"):
                _build_with_mmdebstrap(work, tag, progress)
            elif (work / "Dockerfile").exists():
                progress("mmdebstrap not found: building host image from the Dockerfile (needs a registry)...")
                with calling(f"build --tag {tag}", MMDEBSTRAP_TIMEOUT):
                    client(MMDEBSTRAP_TIMEOUT).images.build(path=str(work), tag=tag, labels={"runner.image": tag},
                                                            rm=True)
            else:  # pragma: no cover - the Dockerfile ships with the package
                raise UserError("cannot build the host image", hint="install mmdebstrap")
        progress(f"built {tag} in {time.monotonic() - started:.0f} s")
    return tag


def _build_with_mmdebstrap(work: Path, tag: str, progress: Progress) -> None:
    rootfs = work / "rootfs.tar"
    progress("building host image with mmdebstrap (about 30 s)...")
    argv = [
        "mmdebstrap",
        f"--variant={VARIANT}",
        f"--include={','.join(PACKAGES)}",
        # A hook is shell code run with the new root as $1; the path is quoted.
        f'--customize-hook={shlex.quote(str(work / "customize-rootfs"))} "$1"',
        SUITE,
        str(rootfs),
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=MMDEBSTRAP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RunnerError(f"mmdebstrap did not finish within {MMDEBSTRAP_TIMEOUT:g} s") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-20:])
        raise RunnerError(f"mmdebstrap failed with exit code {proc.returncode}:\n{tail}")
    progress(f"importing the root file system into docker as {tag}...")
    import_rootfs(rootfs, tag)


def import_rootfs(rootfs: Path, tag: str, timeout: float = IMPORT_TIMEOUT) -> None:
    """Import a root file system tarball as image ``tag`` (entry point and label set), like ``docker import``.

    The tarball is streamed from its open file (never read into memory whole); each wait
    for the daemon is bounded by ``timeout``. The daemon reports a bad tarball in its
    answer's stream, which is raised as :class:`DockerError` with the daemon's words.
    """
    repository, _, version = tag.rpartition(":")
    changes = [f'ENTRYPOINT ["{ENTRYPOINT}"]', f"LABEL runner.image={tag}"]
    with calling(f"import {rootfs.name} {tag}", timeout), open(rootfs, "rb") as handle:
        answer = client(timeout).api.import_image(src=handle, repository=repository, tag=version, changes=changes)
    problem = _stream_error(answer)
    if problem:
        raise DockerError(f"import {rootfs.name} {tag}", "failed", problem)


def _stream_error(answer: object) -> str | None:
    """The first ``error`` in the daemon's JSON-lines answer, if any."""
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer or "")
    for line in text.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("error"):
            return str(message.get("error"))
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner_docker.image", description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="build even when the image exists")
    args = parser.parse_args(argv)
    try:
        tag = ensure_image(rebuild=args.rebuild, progress=lambda line: print(line, file=sys.stderr))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
