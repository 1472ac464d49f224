"""Where the time of a no-op ``runner converge`` goes (a helper of bench/converge.py).

    python bench/profile_noop.py -f stack.yml [--parallel N] [--top 25]

Against a stack whose hosts are already converged it measures, without
changing runner's code:

* start-up: ``python -m runner --version`` (interpreter, imports, plugin
  registry, parser) as wall time, and ``python -X importtime`` of that start-up
  (the heaviest top-level imports);
* one converge run in this process, through ``runner.cli.main.main``, with
  timers wrapped around its phases: plugin registry, stack load, plan_run (and
  inside it the provider's status, i.e. ``docker ps``/``docker inspect``, and
  the recipe compile), run_jobs, and per host the SSH connect (TCP + key
  exchange + auth) and each remote command;
* cProfile (of each thread's own CPU time, time.thread_time, so the load of the
  machine does not count) over the main thread and every host thread of that run (merged, so
  cumulative times of host threads add up across threads).

It prints figures only and changes nothing on the hosts when they are
converged already (the run is a real converge).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Timers:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)

    def add(self, name: str, seconds: float) -> None:
        with self.lock:
            self.samples[name].append(seconds)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)
        timed.__wrapped__ = fn  # type: ignore[attr-defined]
        return timed


def startup(repeat: int = 3) -> tuple[float, list[tuple[float, str]], list[tuple[float, str]], float]:
    """(best wall of `python -m runner --version`, top-level imports, packages at any depth, import seconds)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "runner", "--version"], capture_output=True, timeout=120)
        best = min(best, time.perf_counter() - started)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "runner", "--version"],
                          capture_output=True, text=True, timeout=120)
    tops: list[tuple[float, str]] = []
    packages: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)", line)
        if not m:
            continue
        cumulative, name = int(m.group(2)) / 1e6, m.group(4)
        if len(m.group(3)) == 1:  # one space: a top-level import
            tops.append((cumulative, name))
        if "." not in name and not name.startswith("_") and name != "runner":  # a package's root, at any depth
            packages[name] = packages.get(name, 0.0) + cumulative
    tops.sort(reverse=True)
    heavy = sorted(((s, n) for n, s in packages.items()), reverse=True)
    return best, tops, heavy, sum(s for s, _ in tops)


class ProfilingPool:
    """Stands in for ThreadPoolExecutor in runner.ssh.group: profiles every host thread."""

    profiles: list[cProfile.Profile] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from concurrent.futures import ThreadPoolExecutor
        self.pool = ThreadPoolExecutor(*args, **kwargs)

    def __enter__(self) -> "ProfilingPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True)

    def shutdown(self, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.pool.submit(fn, *args)

    def map(self, fn: Callable[..., Any], *iterables: Any) -> Any:
        def profiled(*args: Any) -> Any:
            prof = cProfile.Profile(time.thread_time)  # CPU of this thread: load elsewhere does not count
            ProfilingPool.profiles.append(prof)
            return prof.runcall(fn, *args)
        return self.pool.map(profiled, *iterables)


def instrumented_run(stack_file: str, parallel: int, profile: bool) -> tuple[float, Timers, dict, cProfile.Profile]:
    timers = Timers()
    main_prof = cProfile.Profile(time.thread_time)
    started = time.perf_counter()
    if profile:
        main_prof.enable()
    import runner.api.runs as api_runs
    import runner.api.session as api_session
    import runner.engine.local as engine_local
    import runner.lifecycle as lifecycle
    import runner.ssh.group as ssh_group
    from runner.cli.main import main
    from runner.plugin.registry import Registry
    from runner.ssh.connection import Connection
    if profile:
        main_prof.disable()
    imports = time.perf_counter() - started

    def orig(fn: Any) -> Any:  # a second run wraps the originals again, not the first run's wrappers
        return getattr(fn, "__wrapped__", fn)

    Registry.load = classmethod(timers.wrap("registry load", orig(Registry.load.__func__)))  # type: ignore
    api_session.Session.open = classmethod(timers.wrap("stack load", orig(api_session.Session.open.__func__)))  # type: ignore
    api_runs.plan_run = timers.wrap("plan_run (compile)", orig(api_runs.plan_run))
    engine_local.run_jobs = timers.wrap("run_jobs (all hosts)", orig(engine_local.run_jobs))
    lifecycle.compile_run_list = timers.wrap("  compile_run_list (per host)", orig(lifecycle.compile_run_list))
    real_open = getattr(Connection.open, "__wrapped__", Connection.open)

    def open_timed(self: Any) -> Any:
        if self.client is not None:  # run() calls open() again: no connect then
            return real_open(self)
        started = time.perf_counter()
        try:
            return real_open(self)
        finally:
            timers.add("  ssh connect: TCP+KEX+auth (per host)", time.perf_counter() - started)
    open_timed.__wrapped__ = real_open  # type: ignore[attr-defined]
    Connection.open = open_timed  # type: ignore[method-assign]
    Connection.run = timers.wrap("  remote command (per command)",
                                 getattr(Connection.run, "__wrapped__", Connection.run))
    if profile:
        ssh_group.ThreadPoolExecutor = ProfilingPool  # type: ignore[misc]

    # the provider's status() runs `docker ps` and `docker inspect`: time it through the registry's class
    registry = orig(Registry.load.__func__)(Registry)
    provider_cls = registry.provider("docker")
    provider_cls.status = timers.wrap("  provider status (docker ps/inspect)", orig(provider_cls.status))

    out = io.StringIO()
    containers = stack_containers(stack_file)
    hosts_before = containers_cpu(containers)
    self_before, children_before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    if profile:
        main_prof.enable()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["converge", "--format", "json", "-f", stack_file, "--parallel", str(parallel)])
    if profile:
        main_prof.disable()
    wall = time.perf_counter() - started
    self_after, children_after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    hosts_after = containers_cpu(containers)
    report = json.loads(out.getvalue()) if out.getvalue().strip() else {}
    report["_exit"] = code
    report["_imports_seconds"] = imports
    report["_cpu"] = {
        "runner process (all threads)": (self_after.ru_utime + self_after.ru_stime)
        - (self_before.ru_utime + self_before.ru_stime),
        "its children (docker CLI)": (children_after.ru_utime + children_after.ru_stime)
        - (children_before.ru_utime + children_before.ru_stime),
        f"the {len(containers)} containers (sshd, probe scripts)":
            (hosts_after - hosts_before) if hosts_after is not None and hosts_before is not None else None,
    }
    return wall, timers, report, main_prof


def stack_containers(stack_file: str) -> list[str]:
    from runner.model.loader import load_stack
    name = load_stack(stack_file).name
    proc = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter", f"label=runner.stack={name}"],
                          capture_output=True, text=True, timeout=60)
    return proc.stdout.split()


def containers_cpu(ids: list[str]) -> float | None:
    """CPU seconds the containers used so far, from their cgroups (v1 cpuacct or v2 cpu.stat); None if unreadable."""
    total = 0.0
    for cid in ids:
        v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
        v2 = [Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat"),
              Path(f"/sys/fs/cgroup/docker/{cid}/cpu.stat")]
        try:
            if v1.exists():
                total += int(v1.read_text()) / 1e9
                continue
            for path in v2:
                if path.exists():
                    usage = next(line for line in path.read_text().splitlines() if line.startswith("usage_usec"))
                    total += int(usage.split()[1]) / 1e6
                    break
            else:
                return None
        except (OSError, ValueError, StopIteration):
            return None
    return total


def host_side(stack_file: str, reps: int = 5) -> list[str]:
    """The no-op probe of the first instance, run in its container, whole and by resource type; and SSH costs."""
    from runner.engine.probe import build_probe_script, new_token
    from runner.engine.wire import wrapper
    from runner.lifecycle import plan_run
    from runner.model.loader import load_stack
    from runner.plugin.registry import Registry
    from runner.ssh.connection import Connection
    from runner.ssh.target import resolve_target

    stack = load_stack(stack_file)
    registry = Registry.load()
    first = next(iter(stack.instances))
    plan = plan_run(stack, registry, "converge", [first])
    job = plan.jobs[0]
    provider = registry.provider(stack.provider)(stack)
    container = provider.containers()[first]  # the docker provider's view (name, port)
    cid = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", container.name], capture_output=True, text=True,
                         timeout=60).stdout.strip()
    out = [f"host side, on {first} (container {container.name}), best of {reps}:"]

    def in_container(script: str) -> tuple[float, int]:
        subprocess.run(["docker", "exec", "-i", container.name, "sh", "-c", "cat > /tmp/.bench-probe.sh"],
                       input=script, text=True, capture_output=True, timeout=60, check=True)
        best: tuple[float, int] | None = None
        for _ in range(reps):  # ns_last_pid: the last pid handed out in the container's namespace
            proc = subprocess.run(
                ["docker", "exec", container.name, "bash", "-c",
                 "a=$(cat /proc/sys/kernel/ns_last_pid); s=$(date +%s%N); sh /tmp/.bench-probe.sh /tmp "
                 ">/dev/null 2>&1; e=$(date +%s%N); b=$(cat /proc/sys/kernel/ns_last_pid); "
                 "echo $(( (e-s)/1000 )) $((b-a-3))"], capture_output=True, text=True, timeout=120)
            us, forks = (int(x) for x in proc.stdout.split())
            if best is None or us < best[0] * 1e3:
                best = (us / 1e3, forks)
        assert best is not None
        return best

    token = new_token()
    whole = build_probe_script(job.resources, token)
    ms, forks = in_container(whole)
    out.append(f"    whole probe script ({len(job.resources)} resources, {len(whole)} bytes): {ms:6.1f} ms, "
               f"{forks} processes")
    by_type: dict[str, list[Any]] = {}
    for res in job.resources:
        by_type.setdefault(res.type_name, []).append(res)
    for type_name, members in by_type.items():
        ms, forks = in_container(build_probe_script(members, token))
        out.append(f"      {len(members):3d} x {type_name:10} {ms:6.1f} ms, {forks:4d} processes "
                   f"({ms / len(members):.1f} ms, {forks / len(members):.1f} processes each)")

    state = next(st for st in provider.status([first]) if st.host is not None)
    target = resolve_target(stack, state.host)
    payload = whole.encode()
    for label, command, stdin in (("ssh connect + `true`", "true", None),
                                  ("ssh connect + the probe (runner's wire wrapper)", wrapper(payload), payload)):
        before = containers_cpu([cid])
        started = time.perf_counter()
        for _ in range(reps):
            with Connection(target) as conn:
                conn.run(command, stdin=stdin)
        wall = (time.perf_counter() - started) / reps
        after = containers_cpu([cid])
        cpu = f"{(after - before) / reps * 1e3:6.1f} ms" if before is not None and after is not None else "?"
        out.append(f"    {label:48} host CPU {cpu}, wall {wall * 1e3:6.1f} ms per session (client included)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-f", "--file", required=True, help="stack.yml of hosts converged already")
    parser.add_argument("--parallel", type=int, default=25)
    parser.add_argument("--top", type=int, default=15, help="cProfile rows to print (per ordering)")
    parser.add_argument("--profile-only", type=int, metavar="RUNS", default=0,
                        help="only RUNS converges under cProfile, each printed (on fresh hosts the first is a "
                        "cold converge, the next no-ops); no start-up, timers or host-side figures")
    args = parser.parse_args(argv)
    if args.profile_only:
        for run in range(1, args.profile_only + 1):
            ProfilingPool.profiles = []
            wall, _timers, report, main_prof = instrumented_run(args.file, args.parallel, profile=True)
            hosts = report.get("hosts", [])
            print(f"\nconverge {run} under cProfile: {wall:.3f} s, exit {report.get('_exit')}, {len(hosts)} hosts, "
                  f"changed {sum(h.get('changed', 0) for h in hosts)}; CPU "
                  + ", ".join(f"{k} {'?' if v is None else f'{v:.3f} s'}" for k, v in report["_cpu"].items()))
            print_profile(main_prof, args.top)
        return 0

    best, tops, heavy, import_total = startup()
    print(f"start-up: `python -m runner --version` best of 3: {best:.3f} s; "
          f"-X importtime top-level imports {import_total:.3f} s, heaviest:")
    for seconds, name in tops[:6]:
        print(f"    {seconds:7.3f} s  {name}")
    print("  heaviest packages imported on the way (cumulative, at any depth): "
          + ", ".join(f"{name} {seconds:.3f} s" for seconds, name in heavy[:8]))

    for label, parallel in ((f"--parallel {args.parallel}", args.parallel), ("--parallel 1 (uncontended)", 1)):
        wall, timers, report, _prof = instrumented_run(args.file, parallel, profile=False)
        hosts = report.get("hosts", [])
        print(f"\nin-process no-op converge, {label}, no profiler: {wall:.3f} s wall, exit {report.get('_exit')}, "
              f"{len(hosts)} hosts, remote commands/host {sorted({h.get('remote_commands') for h in hosts})}, "
              f"changed {sum(h.get('changed', 0) for h in hosts)}")
        print(f"    {'phase':44} {'calls':>5} {'total s':>8} {'mean s':>8} {'max s':>8}")
        for name, values in timers.samples.items():
            print(f"    {name:44} {len(values):5d} {sum(values):8.3f} {statistics.mean(values):8.3f} "
                  f"{max(values):8.3f}")
        cpu = report["_cpu"]
        known = [v for v in cpu.values() if v is not None]
        print("    CPU used during the run: " + ", ".join(
            f"{k} {'?' if v is None else f'{v:.3f} s'}" for k, v in cpu.items())
            + f"; together {sum(known):.3f} s = {sum(known) / wall:.2f} cores busy of {os.cpu_count()}")
    print(f"    (imports of runner in this process, before the timed runs: {report['_imports_seconds']:.3f} s; "
          "per-host phases overlap when hosts run in parallel)")

    print()
    try:
        for line in host_side(args.file):
            print(line)
    except Exception as exc:  # internals it leans on may change: say so, go on
        print(f"host side: not measured ({type(exc).__name__}: {exc})")

    # a second run under cProfile, main thread + every host thread merged
    wall2, _timers, _report, main_prof = instrumented_run(args.file, args.parallel, profile=True)
    print(f"\ncProfile of one more no-op converge ({wall2:.3f} s under the profiler), main + host threads merged "
          "(times of parallel threads add up):")
    print_profile(main_prof, args.top)
    return 0


def print_profile(main_prof: cProfile.Profile, top: int) -> None:
    """The main thread's profile and every host thread's, merged: the top rows by cumulative and own time."""
    stats = pstats.Stats(main_prof)
    for prof in ProfilingPool.profiles:
        with contextlib.suppress(TypeError):  # a thread that profiled nothing
            stats.add(prof)
    for order, rows in (("cumulative", top), ("tottime", top)):
        stream = io.StringIO()
        stats.stream = stream  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(rows)
        lines = stream.getvalue().splitlines()
        first = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
        print(f"  top {rows} by {order}:")
        for line in lines[first:first + rows + 1]:
            for prefix in {sys.prefix, sys.base_prefix}:
                line = line.replace(prefix, "<prefix>")
            print("    " + line[:150])


if __name__ == "__main__":
    sys.exit(main())
