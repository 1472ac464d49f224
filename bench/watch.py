"""Benchmark: ``runner watch`` passes over N converged Docker hosts.

Run by ``tox -e bench-watch`` or directly::

    python bench/watch.py --hosts 10 50 [--passes 10] [--json figures.json]

For each N in ``--hosts`` it starts N fresh Docker hosts through the docker
provider and converges them once (the hosts and workload of bench/converge.py,
through ``Session.converge``), then runs watch passes through the Python API
(``Session.open`` and ``runner.api.watch.Watcher``, its default policies; no
instance has ``auto_healing`` and nothing is down, so the passes only observe):

* the first pass, which opens one SSH connection per host and, having no
  earlier /proc/stat reading, takes two of them on each host (the sampler's
  command sleeps ``SECOND_READING_WAIT`` between them);
* ``--passes`` more passes with the connections kept open.

It prints per N: the first pass's wall time and what it is made of (connect,
the first command, the provider's status); for the passes with connections
open the wall time per pass (median and max), the controller's CPU time per
pass (``time.process_time``: every thread of this process), remote commands per
host per pass (``Connection.commands_run`` of the sampler's connections), where
a pass's time goes (provider status, sampling, watch.json read and write,
setup record reads, the rest), and the machine's load average before and
after. The target beside it: a pass over 50 hosts under 1 s once the
connections are open.

The hosts are containers on this machine: the sshd and shell of each answer
compete with the controller for the same cores, and /proc/loadavg inside a
container is the machine's. A benchmark: it prints figures and asserts no
timing. The containers are always destroyed at the end, also on an error or
Ctrl-C. Exit status 0 when every size ran, 1 when one failed, 2 when Docker
hosts cannot be had, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from converge import Hosts, destroy, fmt, machine_load, say, tail, wait_quiet  # bench/ is this script's directory

TARGET_HOSTS = 50
TARGET_SECONDS = 1.0  # a pass over TARGET_HOSTS hosts, connections open

# the phases of a pass that are timed separately (the rest is policies, statuses, bookkeeping)
PHASES = ("provider.status", "sampler.sample", "watch.json read", "watch.json write", "setup record read")


class PassTimers:
    """Seconds per phase of the current pass, and per SSH connect and remote command (any thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.phases: dict[str, float] = defaultdict(float)
        self.connects: list[float] = []
        self.commands: list[float] = []

    def reset(self) -> None:
        with self.lock:
            self.phases = defaultdict(float)
            self.connects, self.commands = [], []

    def add(self, phase: str, seconds: float) -> None:
        with self.lock:
            self.phases[phase] += seconds

    def wrap(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(phase, time.perf_counter() - started)
        return timed


@contextmanager
def instrumented(timers: PassTimers):
    """Time the sampler's connects and commands and the setup record's reads (runner's classes, only while in)."""
    from runner.api.setup_record import SetupRecord
    from runner.ssh.connection import Connection
    from runner.watch import sampler

    class TimedConnection(Connection):
        def open(self) -> Connection:
            fresh = self.client is None
            started = time.perf_counter()
            try:
                return super().open()
            finally:
                if fresh:
                    with timers.lock:
                        timers.connects.append(time.perf_counter() - started)

        def run(self, *args: Any, **kwargs: Any) -> Any:
            if self.client is None:
                self.open()  # its connect is timed on its own, not as the command's
            started = time.perf_counter()
            try:
                return super().run(*args, **kwargs)
            finally:
                with timers.lock:
                    timers.commands.append(time.perf_counter() - started)

    entries = SetupRecord.entries
    sampler.Connection = TimedConnection  # type: ignore[misc]
    SetupRecord.entries = timers.wrap("setup record read", entries)  # type: ignore[method-assign]
    try:
        yield
    finally:
        sampler.Connection = Connection  # type: ignore[misc]
        SetupRecord.entries = entries  # type: ignore[method-assign]


def load_now() -> str:
    """The load averages (1, 5, 15 min); this size's own containers are running by then."""
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def commands_now(watcher: Any) -> dict[str, tuple[Any, int]]:
    """Each sampler connection and how many commands it has run so far."""
    return {name: (conn, conn.commands_run) for name, conn in watcher.sampler.connections.items()}


def commands_between(before: dict[str, tuple[Any, int]], after: dict[str, tuple[Any, int]]) -> dict[str, int]:
    """Remote commands per host between two snapshots (a connection opened meanwhile counts from 0)."""
    counts = {}
    for name, (conn, run) in after.items():
        was_conn, was_run = before.get(name, (None, 0))
        counts[name] = run - (was_run if was_conn is conn else 0)
    return counts


def one_pass(watcher: Any, timers: PassTimers, hosts: int) -> dict[str, Any]:
    """One ``Watcher.one_pass`` with its wall time, CPU time, remote commands and phases."""
    timers.reset()
    before = commands_now(watcher)
    errors = len(watcher.report.errors)
    changes = len(watcher.report.changes)
    cpu, started = time.process_time(), time.perf_counter()
    watcher.one_pass()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    counts = commands_between(before, commands_now(watcher))
    with timers.lock:
        phases = dict(timers.phases)
        connects, commands = list(timers.connects), list(timers.commands)
    return {
        "wall_s": wall, "cpu_s": cpu,
        "hosts_with_connection": len(counts), "hosts_with_cpu_reading": len(watcher.sampler.cpu),
        "commands_per_host": [counts.get(f"bench{i}", 0)
                                                                    for i in range(1, hosts + 1)],
        "phases": phases, "connect_s": connects, "command_s": commands,
        "errors": watcher.report.errors[errors:], "changes": [str(c) for c in watcher.report.changes[changes:]],
    }


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summary(passes: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [p["wall_s"] for p in passes]
    commands = [c for p in passes for c in p["commands_per_host"]]
    phases = {name: med([p["phases"].get(name, 0.0) for p in passes]) for name in PHASES}
    phases["rest"] = med([p["wall_s"] - sum(p["phases"].get(n, 0.0) for n in PHASES) for p in passes])
    return {
        "passes": len(passes),
        "wall_median_s": med(walls), "wall_max_s": max(walls) if walls else None,
        "cpu_median_s": med([p["cpu_s"] for p in passes]),
        "commands_per_host_min": min(commands) if commands else None,
        "commands_per_host_max": max(commands) if commands else None,
        "command_median_s": med([c for p in passes for c in p["command_s"]]),
        "command_max_s": max((c for p in passes for c in p["command_s"]), default=None),
        "phases_median_s": phases,
    }


def bench_size(count: int, args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    """Start, converge and watch N hosts; the figures join ``results`` at once (an interrupted size shows its own)."""
    from runner.api import Session
    from runner.api.watch import Watcher
    from runner.watch.metrics import SECOND_READING_WAIT

    stack_name = f"bench-watch-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix=f"{stack_name}-", dir=args.workdir))
    figures: dict[str, Any] = {"hosts": count, "stack": stack_name, "parallel": args.parallel or count}
    results.append(figures)
    say(f"\n== {count} hosts: stack {stack_name}, files in {workdir}")
    say(f"   (if this process is killed outright: docker rm -f $(docker ps -aq --filter "
        f"label=runner.stack={stack_name}))")
    if args.wait_quiet > 0:
        wait_quiet(args.wait_quiet)
    hosts: Hosts | None = None
    ok = False
    try:
        hosts = Hosts(workdir, count, stack_name)
        figures["load_before_start"] = machine_load()
        say(f"   machine before the start: {figures['load_before_start']}")
        seconds, notes = hosts.start(args.start_batch)
        figures["start_s"], figures["start_notes"] = seconds, notes
        say(f"   provider start: {seconds:.2f} s" + "".join(f"\n   {n}" for n in notes))

        with Session.open(hosts.stack_file, parallel=figures["parallel"]) as session:
            started = time.perf_counter()
            report = session.converge()
            figures["converge_s"] = time.perf_counter() - started
            if not report.ok:
                raise RuntimeError(f"the converge failed: {report.failures()}")
            say(f"   converge (setup + configure, once): {figures['converge_s']:.2f} s")

            timers = PassTimers()
            watcher = Watcher(session)  # default policies and interval; one_pass() is called here
            watcher._provider.status = timers.wrap("provider.status", watcher._provider.status)
            watcher.sampler.sample = timers.wrap("sampler.sample", watcher.sampler.sample)
            watcher.state.read = timers.wrap("watch.json read", watcher.state.read)
            watcher.state.save_pass = timers.wrap("watch.json write", watcher.state.save_pass)
            try:
                with instrumented(timers):
                    figures["load_before_passes"] = load_now()
                    first = one_pass(watcher, timers, count)
                    figures["first"] = first
                    say(f"   first pass (connections opened): {first['wall_s']:.2f} s wall, "
                        f"{first['cpu_s']:.2f} s CPU")
                    passes = [one_pass(watcher, timers, count) for _ in range(args.passes)]
                    figures["load_after_passes"] = load_now()
            finally:
                watcher.sampler.close()
        figures["open"] = summary(passes)
        figures["open_passes"] = passes
        figures["first_connect_median_s"] = med(first["connect_s"])
        figures["first_connect_max_s"] = max(first["connect_s"], default=None)
        figures["first_command_median_s"] = med(first["command_s"])
        figures["first_command_max_s"] = max(first["command_s"], default=None)
        figures["second_reading_wait_s"] = SECOND_READING_WAIT
        problems = [e for p in [first, *passes] for e in p["errors"]] + [
            c for p in [first, *passes] for c in p["changes"]]
        figures["problems"] = problems
        s = figures["open"]
        say(f"   {args.passes} passes, connections open: wall median {fmt(s['wall_median_s'], 3)} s, "
            f"max {fmt(s['wall_max_s'], 3)} s; CPU median {fmt(s['cpu_median_s'], 3)} s; "
            f"commands/host/pass {s['commands_per_host_min']}..{s['commands_per_host_max']}")
        for line in problems[:5]:
            say(f"   seen during the passes: {line}")
        ok = not problems
    except Exception:  # a host that cannot start, a failed converge, a bug here: report it, clean up, go on
        figures["error"] = traceback.format_exc()
        say(f"   ERROR:\n{tail(figures['error'], 25)}")
    finally:
        figures["ok"] = ok
        if hosts is not None:
            destroy(hosts, count, stack_name)
        if args.keep_workdir or not ok:
            say(f"   kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def print_report(results: list[dict[str, Any]], passes: int) -> None:
    say("\n" + "=" * 100)
    say(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; Watcher passes in this process "
        f"(default policies, no healing configured: the passes only observe)")
    for f in results:
        say(f"\n{f['hosts']} hosts (parallel {f['parallel']}), stack {f['stack']}:")
        if "first" not in f:
            say(f"  no passes: {f.get('error', '?').strip().splitlines()[-1]}")
            continue
        first, s = f["first"], f.get("open")
        fc = first["commands_per_host"]
        say(f"  load: before the start {f['load_before_start']}; before the passes {f['load_before_passes']}"
            + (f"; after them {f['load_after_passes']}" if "load_after_passes" in f else ""))
        say(f"  first pass (connections opened):  {first['wall_s']:.3f} s wall, {first['cpu_s']:.3f} s CPU, "
            f"commands/host {min(fc)}..{max(fc)}, hosts whose output parsed (a CPU reading) "
            f"{first['hosts_with_cpu_reading']}/{f['hosts']}")
        say(f"    sampler's first pass: SSH connect per host median {fmt(f['first_connect_median_s'], 3)} s "
            f"(max {fmt(f['first_connect_max_s'], 3)}), first command per host median "
            f"{fmt(f['first_command_median_s'], 3)} s (max {fmt(f['first_command_max_s'], 3)}; it takes a second "
            f"/proc/stat reading {f['second_reading_wait_s']:g} s after the first); "
            f"sampler.sample {fmt(first['phases'].get('sampler.sample'), 3)} s, "
            f"provider.status {fmt(first['phases'].get('provider.status'), 3)} s")
        if not s:
            continue
        say(f"  {s['passes']} passes, connections open: wall per pass median {fmt(s['wall_median_s'], 3)} s, "
            f"max {fmt(s['wall_max_s'], 3)} s; controller CPU per pass median {fmt(s['cpu_median_s'], 3)} s; "
            f"remote commands per host per pass {s['commands_per_host_min']}"
            + ("" if s["commands_per_host_min"] == s["commands_per_host_max"] else f"..{s['commands_per_host_max']}")
            + f"; the command per host median {fmt(s['command_median_s'], 3)} s (max {fmt(s['command_max_s'], 3)})")
        say("    where a pass goes (median s): " + ", ".join(
            f"{name} {fmt(value, 3)}" for name, value in s["phases_median_s"].items()))
        if f.get("problems"):
            say(f"  seen during the passes: {'; '.join(f['problems'][:5])}")
    say(f"\ntarget: a pass over {TARGET_HOSTS} hosts under {TARGET_SECONDS:g} s once connections are open:")
    at = [f for f in results if f["hosts"] == TARGET_HOSTS and f.get("open")]
    if not at:
        say(f"  not measured (no run at {TARGET_HOSTS} hosts with its {passes} passes)")
    for f in at:
        s = f["open"]
        verdict = "met" if s["wall_max_s"] < TARGET_SECONDS else (
            "met by the median, NOT by the slowest pass" if s["wall_median_s"] < TARGET_SECONDS else "NOT met")
        say(f"  {verdict}: median {s['wall_median_s']:.3f} s, max {s['wall_max_s']:.3f} s "
            f"({f['load_before_passes']} before the passes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, nargs="+", default=[10, 50], metavar="N",
                        help="host counts to benchmark (default: 10 50)")
    parser.add_argument("--passes", type=int, default=10, metavar="K",
                        help="passes after the first, with connections open (default 10)")
    parser.add_argument("--parallel", type=int, default=0, metavar="P",
                        help="the session's parallel (hosts sampled at once; default: the host count)")
    parser.add_argument("--start-batch", type=int, default=10, metavar="K",
                        help="start the hosts K at a time through the provider (default 10)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                        help="before each size wait up to S seconds for no other containers and load < 1")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument("--workdir", help="where the throwaway stacks go (default: the temp dir)")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the stacks and their state dirs")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.hosts) or args.passes < 1 or args.start_batch < 1 or args.parallel < 0:
        parser.error("--hosts, --passes and --start-batch must be at least 1, --parallel at least 0")

    from runner.testing import docker_unavailable_reason

    reason = docker_unavailable_reason()
    if reason:
        say(f"Docker hosts unavailable: {reason}")
        return 2
    say(f"bench watch: hosts {args.hosts}, {args.passes} passes with connections open after the first")

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    results: list[dict[str, Any]] = []
    interrupted = False
    try:
        for count in args.hosts:
            bench_size(count, args, results)
    except KeyboardInterrupt:
        interrupted = True
        say("\ninterrupted: containers destroyed; figures so far follow")
    print_report(results, args.passes)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "interrupted": interrupted}, indent=2,
                                              default=str) + "\n")
        say(f"\nfigures written to {args.json}")
    if interrupted:
        return 130
    return 0 if all(f.get("ok") for f in results) else 1


if __name__ == "__main__":
    sys.exit(main())
