"""Benchmark: ``runner converge`` with the local executor against ``--executor dask://`` on N Docker hosts.

Run directly (runner-docker and runner-dask installed)::

    python bench/executor.py --hosts 4 10 [--workers 2]

It starts a Dask scheduler and ``--workers`` workers on 127.0.0.1, then for
each N: N fresh hosts converged with the local executor (cold, then a no-op),
destroyed, then N fresh hosts converged with ``--executor dask://`` (cold, then
a no-op), destroyed. The workload is bench/converge.py's. Wall times are
measured around each ``python -m runner converge`` subprocess; the Dask
figures include connecting to the scheduler (each run is its own client).
Everything runs on this machine, so the workers compete with the hosts and the
controller for the same cores: what this shows is the executor's overhead, not
a distributed speed-up. Prints figures, asserts nothing; the processes and
containers are always removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from converge import Hosts, machine_load, say, timed  # noqa: E402 (bench/converge.py, beside this file)

WORKER_THREADS = 8


class Cluster:
    """A Dask scheduler and its workers on 127.0.0.1, as subprocesses."""

    def __init__(self, workdir: Path, workers: int):
        self.workdir, self.count = workdir, workers
        self.procs: list[subprocess.Popen] = []
        self.address = ""

    def _spawn(self, *args: str) -> None:
        dask = Path(sys.executable).parent / "dask"
        argv = [str(dask)] if dask.exists() else [sys.executable, "-m", "dask"]
        with open(self.workdir / "dask.log", "a") as log:
            self.procs.append(subprocess.Popen([*argv, *args], stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir))

    def start(self) -> float:
        import distributed

        started = time.perf_counter()
        info = self.workdir / "scheduler.json"
        self._spawn("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(info))
        deadline = time.monotonic() + 60
        while not (info.exists() and info.read_text().strip()):
            if time.monotonic() > deadline:
                raise SystemExit(f"the dask scheduler did not start; see {self.workdir / 'dask.log'}")
            time.sleep(0.2)
        self.address = json.loads(info.read_text())["address"]
        for i in range(self.count):
            self._spawn("worker", self.address, "--nthreads", str(WORKER_THREADS), "--no-nanny", "--no-dashboard",
                        "--name", f"bench-w{i + 1}", "--host", "127.0.0.1")
        with distributed.Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(self.count, timeout=120)
        return time.perf_counter() - started

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def converge(hosts: Hosts, label: str, executor: str | None) -> tuple[float, str]:
    argv = [sys.executable, "-m", "runner", "converge", "--format", "json", "-f", str(hosts.stack_file)]
    if executor:
        argv += ["--executor", executor]
    seconds, proc = timed(argv, hosts.workdir, hosts.workdir / f"{label}.log", timeout=900)
    try:
        report = json.loads(proc.stdout)
        bad = [h["host"] for h in report["hosts"] if not h["ok"]]
        changed = sum(h["changed"] for h in report["hosts"])
        note = f"{changed} changed" + (f", FAILED: {', '.join(bad)}" if bad else "")
    except (json.JSONDecodeError, KeyError):
        note = f"no report (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
    return seconds, note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[4, 10], metavar="N")
    parser.add_argument("--workers", type=int, default=2, metavar="W", help="dask workers (default 2)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-executor-") as tmp:
        cluster = Cluster(Path(tmp), args.workers)
        try:
            say(f"starting a dask scheduler and {args.workers} workers ...")
            say(f"   cluster up in {cluster.start():.1f} s at {cluster.address}")
            url = cluster.address.replace("tcp://", "dask://", 1)
            for count in args.hosts:
                for label, executor in (("local", None), ("dask", url)):
                    workdir = Path(tmp) / f"{label}-{count}"
                    workdir.mkdir()
                    hosts = Hosts(workdir, count, f"bench-{os.urandom(4).hex()}")
                    try:
                        say(f"{count} hosts, {label}: starting them ...")
                        hosts.start(batch=10)
                        load = machine_load()
                        cold, cold_note = converge(hosts, f"{label}-cold", executor)
                        noop, noop_note = converge(hosts, f"{label}-noop", executor)
                        rows.append((count, label, cold, cold_note, noop, noop_note, load))
                        say(f"   cold {cold:.2f} s ({cold_note}); no-op {noop:.2f} s ({noop_note}); {load}")
                    finally:
                        hosts.destroy()
        finally:
            cluster.stop()
    say("\nHOSTS  EXECUTOR  COLD s  NO-OP s")
    for count, label, cold, _, noop, _, _ in rows:
        say(f"{count:5d}  {label:8s}  {cold:6.2f}  {noop:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
