"""Benchmark: `runner deploy` of a small app to N Docker hosts at once: all_at_once, then rolling by 25 %.

Run by ``tox -e bench-deploy-scale`` or directly::

    python bench/deploy_scale.py --hosts 50 [--batch 25%] [--json figures.json]

It makes a throwaway stack of N app instances (docker provider), started
through the provider like bench/converge.py does, with a tiny cookbook whose
deploy recipe writes the release id into shared/config (so every deploy has
something to apply, as a real deploy restarting its app has). No package is
installed: no converge is needed. After one warm-up deploy (the first release,
which also creates /srv/<app>), it measures:

* ``runner deploy APP --strategy all_at_once``;
* ``runner deploy APP --strategy rolling --batch 25%`` (no load balancer: the
  balancer host's commands are not part of these figures).

For each: wall time, remote commands per host (from the JSON report: min, max,
total), the controller's peak RSS and its CPU seconds (user + sys of the
runner child, from ``os.wait4``), and the machine's load average. It prints
the figures and asserts nothing. The containers are always destroyed at the
end, also on an error or Ctrl-C. Exit status: 0 when every run deployed every
host, 1 when one did not, 2 without Docker, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from converge import destroy, machine_load, say, with_bytecode  # noqa: E402  (bench/ is this script's directory)

REPO = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 900.0
APP = "scaleapp"

RECIPE = '''\
"""The bench's deploy recipe: the release id into shared/config (a change on every deploy)."""
if deployment is not None and deployment.release:
    root = f"/srv/{deployment.app}"
    directory(f"{root}/shared/config", mode="0755")
    file(f"{root}/shared/config/release", content=deployment.release + "\\n", mode="0644")
'''


@dataclass
class RunFigures:
    label: str
    seconds: float | None = None
    hosts_ok: int = 0
    commands_min: int | None = None
    commands_max: int | None = None
    commands_total: int | None = None
    peak_rss_mb: float | None = None
    cpu_seconds: float | None = None
    load: str = ""
    error: str | None = None


@dataclass
class Figures:
    hosts: int
    batch: str
    transport: str = "paramiko"
    cpus: int | None = os.cpu_count()
    start_seconds: float | None = None
    start_notes: list[str] = field(default_factory=list)
    runs: list[RunFigures] = field(default_factory=list)


def write_stack(workdir: Path, count: int, name: str, transport: str = "paramiko") -> Path:
    book = workdir / "cookbooks" / "scaledeploy"
    (book / "recipes").mkdir(parents=True)
    (book / "metadata.yml").write_text("name: scaledeploy\nversion: 0.1.0\n")
    (book / "recipes" / "deploy.py").write_text(RECIPE)
    source = workdir / "app"
    (source / "deploy").mkdir(parents=True)
    (source / "server.py").write_text("print('hello')\n")
    (source / "README").write_text("a small app for the deploy bench\n" * 20)
    stack: dict[str, Any] = {"name": name, "provider": "docker", "cookbooks": [{"path": str(workdir / "cookbooks")}]}
    if transport != "paramiko":  # the default; written only when another is asked for
        stack["ssh"] = {"transport": transport}
    document = {
        "stack": stack,
        "layers": {"app": {"recipes": {"deploy": ["scaledeploy::deploy"]}}},
        "instances": {f"app{i}": {"layers": ["app"]} for i in range(1, count + 1)},
        "apps": {APP: {"layers": ["app"], "source": {"type": "directory", "path": str(source)},
                       "environment": {"GREETING": "hi"}, "deploy": {"strategy": "all_at_once"}}},
    }
    path = workdir / "stack.yml"
    path.write_text(json.dumps(document, indent=2) + "\n")  # JSON is YAML
    return path


class Hosts:
    """The stack's instances as Docker hosts, through the provider; ``destroy`` removes them all."""

    def __init__(self, stack_file: Path):
        from runner.model.loader import load_stack
        from runner.plugin.registry import Registry
        from runner.testing import DockerHostSet

        self.stack = load_stack(stack_file)
        registry = Registry.load()
        if self.stack.provider not in registry.providers:
            raise SystemExit("no 'docker' provider is registered: pip install -e plugins/runner-docker")
        provider = registry.provider(self.stack.provider)(self.stack, progress=lambda line: None)
        self.set = DockerHostSet(self.stack, provider, [])

    def start(self, batch: int, attempts: int = 2) -> tuple[float, list[str]]:
        """Start every instance, ``batch`` at a time (a batch whose sshd was slow is started once more)."""
        from runner.errors import RunnerError

        notes: list[str] = []
        names = self.set.names
        started = time.perf_counter()
        for i in range(0, len(names), batch):
            chunk = names[i:i + batch]
            for attempt in range(1, attempts + 1):
                try:
                    self.set._update(self.set.provider.start(chunk))
                    break
                except RunnerError as exc:
                    notes.append(f"start of {chunk[0]}..{chunk[-1]} failed (attempt {attempt}): "
                                 f"{str(exc).splitlines()[0]}")
                    if attempt == attempts:
                        raise
        return time.perf_counter() - started, notes

    def destroy(self) -> None:
        self.set.destroy()


def run_deploy(stack_file: Path, workdir: Path, label: str, count: int, *args: str) -> RunFigures:
    """One `runner deploy` as a child process: wall time, its report, and its rusage (os.wait4)."""
    figures = RunFigures(label, load=machine_load())
    argv = [sys.executable, "-m", "runner", "deploy", APP, "--format", "json", "-f", str(stack_file),
            "--parallel", str(count), *args]
    out_path, err_path = workdir / f"{label}.out", workdir / f"{label}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        pid = os.posix_spawn(sys.executable, argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        deadline = started + RUN_TIMEOUT
        while True:  # bounded: the child is killed at the deadline
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.perf_counter() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        figures.seconds = round(time.perf_counter() - started, 3)
    figures.peak_rss_mb = round(usage.ru_maxrss / 1024, 1)  # Linux: KiB
    figures.cpu_seconds = round(usage.ru_utime + usage.ru_stime, 2)
    text = out_path.read_text()
    try:
        report = json.loads(text)
    except json.JSONDecodeError:
        figures.error = f"no report (exit {os.waitstatus_to_exitcode(status)}): " \
                        f"{text[-500:]}{err_path.read_text()[-1500:]}"
        return figures
    hosts = report.get("hosts", [])
    commands = [h.get("remote_commands", 0) for h in hosts]
    figures.hosts_ok = sum(1 for h in hosts if h.get("ok"))
    if commands:
        figures.commands_min, figures.commands_max, figures.commands_total = min(commands), max(commands), \
            sum(commands)
    if figures.hosts_ok != count:
        failed = [f"{h['host']}: {h.get('step')}: {h.get('error')}" for h in hosts if not h.get("ok")]
        figures.error = "; ".join(failed[:3]) or err_path.read_text()[-1500:]
    return figures


def bench(args: argparse.Namespace, figures: Figures) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="runner-bench-deploy-scale-", dir=args.workdir))
    name = f"benchdscale{uuid.uuid4().hex[:6]}"
    stack_file = write_stack(workdir, args.hosts, name, figures.transport)
    hosts = Hosts(stack_file)
    try:
        say(f"starting {args.hosts} Docker hosts ({name})")
        figures.start_seconds, figures.start_notes = hosts.start(args.start_batch)
        figures.start_seconds = round(figures.start_seconds, 1)
        say("warm-up deploy (the first release)")
        warm = run_deploy(stack_file, workdir, "warm-up", args.hosts, "--strategy", "all_at_once")
        figures.runs.append(warm)
        for _ in range(args.repeat):
            say("deploy, all_at_once")
            figures.runs.append(run_deploy(stack_file, workdir, "all_at_once", args.hosts,
                                           "--strategy", "all_at_once"))
            say(f"deploy, rolling, batch {args.batch}")
            figures.runs.append(run_deploy(stack_file, workdir, f"rolling {args.batch}", args.hosts,
                                           "--strategy", "rolling", "--batch", args.batch))
    finally:
        destroy(hosts, args.hosts, name)


def print_figures(f: Figures) -> None:
    print(f"\nrunner deploy at scale: {f.hosts} Docker hosts, transport {f.transport}, {f.cpus} CPUs; "
          f"started in {f.start_seconds} s")
    for note in f.start_notes:
        print(f"  {note}")
    print(f"  {'run':<14} {'wall s':>7} {'ok':>4} {'cmd/host min-max':>17} {'cmds':>6} {'peak RSS MB':>11} "
          f"{'CPU s':>6}  machine")
    for r in f.runs:
        span = "-" if r.commands_min is None else f"{r.commands_min}-{r.commands_max}"
        print(f"  {r.label:<14} {r.seconds or 0:7.2f} {r.hosts_ok:>4} {span:>17} {r.commands_total or 0:>6} "
              f"{r.peak_rss_mb or 0:11.1f} {r.cpu_seconds or 0:6.2f}  {r.load}")
        if r.error:
            print(f"    error: {r.error[:800]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50, help="app hosts (default 50)")
    parser.add_argument("--batch", default="25%", help="the rolling deploy's batch (default 25%%)")
    parser.add_argument("--repeat", type=int, default=1, help="measured runs of each strategy (default 1)")
    parser.add_argument("--start-batch", type=int, default=10, metavar="K",
                        help="start the hosts K at a time through the provider (default 10)")
    parser.add_argument("--transport", nargs="+", default=["paramiko"], metavar="NAME",
                        help="stack.ssh.transport, each on its own fresh hosts in turn (default: paramiko); "
                        "openssh's masters stay warm from one deploy to the next")
    parser.add_argument("--workdir", help="where the throwaway stack goes (default: the temp dir)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    with_bytecode()
    if args.hosts < 1 or args.repeat < 1 or args.start_batch < 1:
        parser.error("--hosts, --repeat and --start-batch must be at least 1")
    from runner.testing import docker_unavailable_reason

    reason = docker_unavailable_reason()
    if reason:
        say(f"Docker hosts unavailable: {reason}")
        return 2

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    results = [Figures(args.hosts, args.batch, transport) for transport in args.transport]
    interrupted = False
    try:
        for figures in results:
            bench(args, figures)
    except KeyboardInterrupt:
        interrupted = True
        say("\ninterrupted: containers destroyed; figures so far follow")
    for figures in results:
        print_figures(figures)
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in results], indent=2) + "\n")
    if interrupted:
        return 130
    return 0 if all(f.runs and all(r.hosts_ok == f.hosts for r in f.runs) for f in results) else 1


if __name__ == "__main__":
    sys.exit(main())
