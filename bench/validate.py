"""Benchmark: how ``runner validate`` grows with the number of instances.

Run by ``tox -e bench-validate`` or directly::

    python bench/validate.py [--instances 1000 10000] [--repeat 3]

For each N it writes, in a temporary directory, a stack of N static instances
over a few layers and apps (with a small cookbook the layers' recipes come
from), then prints the best wall time of :func:`load_and_validate` in this
process and of ``python -m runner validate`` as a subprocess (which also pays
for the interpreter's start-up and the plugin registry). Every command loads
and validates the stack first, so these figures are each command's floor.

A benchmark: it prints figures and asserts no timing. Its exit status is 1 when
a run fails (the stack is invalid or the command exits non-zero).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

LAYERS = ("web", "api", "worker", "db")


def write_stack(directory: Path, instances: int) -> Path:
    """A valid stack of ``instances`` static instances (and its cookbook) under ``directory``."""
    cookbook = directory / "cookbooks" / "bench"
    (cookbook / "recipes").mkdir(parents=True)
    (cookbook / "metadata.yml").write_text("name: bench\nversion: 1.0.0\n")
    (cookbook / "recipes" / "default.py").write_text('directory("/opt/bench")\n')
    layers = "".join(
        f"  {layer}:\n"
        f"    recipes:\n"
        f"      setup: [bench]\n"
        f"      configure: [bench::default]\n"
        for layer in LAYERS
    )
    hosts = "".join(
        f"  i{i:05d}: {{layers: [{LAYERS[i % len(LAYERS)]}], address: 10.{i // 65536 % 256}.{i // 256 % 256}."
        f"{i % 256}, port: {22 + i % 3}, custom_json: {{rank: {i}, tags: [a, b]}}}}\n"
        for i in range(instances)
    )
    (directory / "apps" / "hello").mkdir(parents=True)
    (directory / "apps" / "hello" / "index.html").write_text("hello\n")
    stack = directory / "stack.yml"
    stack.write_text(textwrap.dedent("""\
        stack:
          name: bench-validate
          provider: static
          ssh: {user: root, host_key_policy: accept-new}
          cookbooks:
            - path: cookbooks
          custom_json: {env: bench}
        """) + "layers:\n" + layers + "instances:\n" + hosts + textwrap.dedent("""\
        apps:
          hello:
            layers: [web]
            source: {type: directory, path: apps/hello}
        """))
    return stack


def time_load_and_validate(stack: Path, repeat: int) -> float:
    from runner.cookbooks.validate import load_and_validate

    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        load_and_validate(stack)
        best = min(best, time.perf_counter() - started)
    return best


def time_command(stack: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "runner", "-f", str(stack), "validate"],
                              capture_output=True, text=True, timeout=1800)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"runner validate exited {done.returncode}: {done.stderr.strip()[-2000:]}")
        best = min(best, elapsed)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is printed")
    args = parser.parse_args(argv)
    print(f"{'instances':>10}  {'load_and_validate':>18}  {'runner validate':>16}")
    status = 0
    for n in args.instances:
        with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
            stack = write_stack(Path(tmp), n)
            try:
                in_process = time_load_and_validate(stack, args.repeat)
                command = time_command(stack, args.repeat)
            except Exception as exc:  # a failed run is reported, the other sizes still run
                print(f"{n:>10}  failed: {exc}")
                status = 1
                continue
            print(f"{n:>10}  {in_process:>16.2f} s  {command:>14.2f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
