"""Benchmark: the controller's peak memory converging a large ``file(source=...)`` to Docker hosts.

Run by ``tox -e bench-memory`` or directly::

    python bench/memory.py [--size-mb 200] [--hosts 1 3]

It generates one file of ``--size-mb`` MB in a temporary directory, in a cookbook
whose recipe is ``file("/opt/bench-memory/blob.bin", source="blob.bin")``. For each
N in ``--hosts`` it starts N fresh Docker hosts through the ``docker`` provider of
the plugin registry (as bench/converge.py does), runs ``python -m runner converge``
as a subprocess twice (cold: the file is sent to every host; no-op: only the
checksums are compared) and prints each run's wall time and the subprocess's peak
resident memory (``ru_maxrss`` from ``os.wait4``). It checks the file's sha256 on
every host. The containers are always destroyed at the end, also on an error,
Ctrl-C or SIGTERM.

A benchmark: it prints figures and asserts no memory or timing. Exit status 0
when every run completed, 1 when a run failed, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

TARGET = "/opt/bench-memory/blob.bin"
RUN_TIMEOUT = 1800.0


def write_blob(path: Path, size: int) -> str:
    """A file of ``size`` bytes that does not compress to nothing; its sha256."""
    digest = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as out:
        left = size
        while left > 0:
            chunk = block[:min(left, len(block))]
            out.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def write_cookbook(books: Path, blob_size: int) -> str:
    book = books / "memory"
    (book / "recipes").mkdir(parents=True)
    (book / "files").mkdir()
    (book / "metadata.yml").write_text("name: memory\nversion: 0.1.0\n")
    (book / "recipes" / "default.py").write_text(
        f'directory("/opt/bench-memory")\nfile({TARGET!r}, source="blob.bin", mode="0644")\n')
    return write_blob(book / "files" / "blob.bin", blob_size)


class Hosts:
    """N fresh Docker hosts of one throwaway stack; ``destroy`` removes every container of it."""

    def __init__(self, workdir: Path, books: Path, count: int):
        from runner.model.loader import load_stack
        from runner.plugin.registry import Registry
        from runner.testing import DockerHostSet

        document = {
            "stack": {"name": f"bench-{uuid.uuid4().hex[:8]}", "provider": "docker",
                      "cookbooks": [{"path": str(books)}]},
            "layers": {"mem": {"recipes": {"configure": ["memory"]}}},
            "instances": {f"mem{i}": {"layers": ["mem"]} for i in range(1, count + 1)},
        }
        self.stack_file = workdir / "stack.yml"
        self.stack_file.write_text(json.dumps(document, indent=2) + "\n")  # JSON is YAML
        stack = load_stack(self.stack_file)
        registry = Registry.load()
        if stack.provider not in registry.providers:
            raise SystemExit("no 'docker' provider is registered: install plugins/runner-docker")
        provider = registry.provider(stack.provider)(stack, progress=lambda line: None)
        self.set = DockerHostSet(stack, provider, [])

    def start(self) -> None:
        self.set._update(self.set.provider.start())

    def destroy(self) -> None:
        self.set.destroy()


def converge(stack_file: Path, log: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit status) of one ``python -m runner converge``."""
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "runner", "converge", "--format", "json",
                                 "-f", str(stack_file)], stdout=out, stderr=subprocess.STDOUT)
        deadline = started + RUN_TIMEOUT
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, proc.returncode  # ru_maxrss is in KiB


def bench_hosts(count: int, books: Path, want: str, workdir: Path) -> list[str]:
    hosts = Hosts(workdir, books, count)
    try:
        print(f"  starting {count} Docker host(s) ...", flush=True)
        hosts.start()
        rows = []
        for label in ("cold", "no-op"):
            seconds, peak, code = converge(hosts.stack_file, workdir / f"{label}.log")
            if code != 0:
                raise RuntimeError(f"{label} converge exited {code}:\n"
                                   + (workdir / f"{label}.log").read_text(errors="replace")[-3000:])
            rows.append(f"{count:>5}  {label:>6}  {seconds:>8.1f} s  {peak:>8.0f} MB")
        for name in hosts.set.names:
            got = hosts.set.exec(name, "sha256sum", TARGET, timeout=300).stdout.split()[0]
            if got != want:
                raise RuntimeError(f"{name}: {TARGET} has sha256 {got}, expected {want}")
        return rows
    finally:
        hosts.destroy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200, help="size of the generated file (default 200)")
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 3], help="host counts (default 1 3)")
    args = parser.parse_args(argv)

    def on_term(signum, frame):  # destroy the containers on SIGTERM as on Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    status = 0
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        books = Path(tmp) / "cookbooks"
        print(f"generating a {args.size_mb} MB file ...", flush=True)
        want = write_cookbook(books, args.size_mb * 1024 * 1024)
        try:
            for count in args.hosts:
                workdir = Path(tmp) / f"hosts-{count}"
                workdir.mkdir()
                try:
                    rows += bench_hosts(count, books, want, workdir)
                except (RuntimeError, OSError) as exc:
                    print(f"  {count} host(s) failed: {exc}", flush=True)
                    status = 1
        except KeyboardInterrupt:
            print("\ninterrupted: containers destroyed; figures so far follow")
            status = 130
    print(f"\nfile(source=) of {args.size_mb} MB; peak RSS of the `runner converge` process")
    print(f"{'hosts':>5}  {'run':>6}  {'wall':>10}  {'peak RSS':>11}")
    for row in rows:
        print(row)
    return status


if __name__ == "__main__":
    sys.exit(main())
