"""Benchmark: how long the docker provider takes to start N instances from nothing.

Run by ``tox -e bench-start`` or directly::

    python bench/start.py [--instances 10] [--repeat 1]

For each run it writes a fresh stack of N instances (provider ``docker``) in a
temporary directory, makes sure the host image exists (not timed), then times
``provider.start()`` from no container at all until every instance's sshd has
sent its ``SSH-`` banner on 127.0.0.1 (the provider waits for that; the
benchmark checks each banner again after), then times ``provider.destroy()``.
The containers are always destroyed, also on an error or Ctrl-C.

A benchmark: it prints figures and asserts no timing. The machine's load
average and the number of other running containers are printed with each run:
the figures are only as quiet as the machine. Its exit status is 1 when a run
fails.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path


def load_line() -> str:
    """The load average and how many containers are running (other helpers' too)."""
    one, five, fifteen = os.getloadavg()
    try:
        proc = subprocess.run(["docker", "ps", "-q"], capture_output=True, text=True, timeout=30)
        running = str(len(proc.stdout.split())) if proc.returncode == 0 else "?"
    except (OSError, subprocess.TimeoutExpired):
        running = "?"
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores, {running} containers running"


def banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
            sock.settimeout(2.0)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def make_provider(directory: Path, count: int):  # -> (stack, provider)
    from runner.model.loader import load_stack
    from runner.plugin.registry import Registry

    name = f"bench-start-{uuid.uuid4().hex[:8]}"
    document = {
        "stack": {"name": name, "provider": "docker"},
        "layers": {"bench": {}},
        "instances": {f"bench{i}": {"layers": ["bench"]} for i in range(1, count + 1)},
    }
    path = directory / "stack.yml"
    path.write_text(json.dumps(document, indent=2) + "\n")  # JSON is YAML
    stack = load_stack(path)
    registry = Registry.load()
    if stack.provider not in registry.providers:
        raise SystemExit("no 'docker' provider is registered: install plugins/runner-docker")
    return stack, registry.provider(stack.provider)(stack, progress=lambda line: None)


def one_run(count: int) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory(prefix="runner-bench-start-") as tmp:
        stack, provider = make_provider(Path(tmp), count)
        load = load_line()
        started = time.perf_counter()
        try:
            states = provider.start()
            start_s = time.perf_counter() - started
            ports = [s.host.port for s in states if s.online]
            answering = sum(banner(p) for p in ports)
        finally:
            destroy_started = time.perf_counter()
            provider.destroy()
            destroy_s = time.perf_counter() - destroy_started
        return {"instances": count, "online": len(ports), "answering_ssh": answering,
                "start_s": start_s, "per_instance_s": start_s / count, "destroy_s": destroy_s, "load": load}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, nargs="+", default=[10], help="instance counts (default 10)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per count (default 1)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    from runner_docker.image import ensure_image

    tag = ensure_image(progress=lambda line: print(line, file=sys.stderr))  # not timed
    print(f"image {tag}")
    figures = []
    status = 0
    for count in args.instances:
        for attempt in range(1, args.repeat + 1):
            try:
                row = one_run(count)
            except Exception as exc:  # a benchmark reports and goes on
                print(f"{count} instances, run {attempt}: failed: {str(exc).splitlines()[0]}")
                status = 1
                continue
            figures.append(row)
            print(f"{count:>4} instances, run {attempt}: start {row['start_s']:.2f} s "
                  f"({row['per_instance_s']:.2f} s each), {row['answering_ssh']}/{count} answer SSH, "
                  f"destroy {row['destroy_s']:.2f} s  [{row['load']}]")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
