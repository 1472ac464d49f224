"""Benchmark: a rolling deploy of a small app to N Docker hosts behind HAProxy, and a blue/green switch.

Run by ``tox -e bench-deploy`` or directly::

    python bench/deploy.py --hosts 10 --batch 2 [--json figures.json]

It makes a throwaway stack (an lb instance running HAProxy from the sample
haproxy cookbook, N app instances running apps/hello through the sample
nodejs_demo cookbook), starts it through the docker provider, converges it and
deploys once. Then, with a steady stream of requests going through the
balancer from this machine, it measures:

* a rolling deploy (``--batch`` hosts per batch, health check ``curl`` on each
  host): wall time, and per batch its time and the time spent in health checks;
* a blue/green deploy (the first half of the hosts is blue, the second green)
  and the switch back to the other colour (``runner rollback``): wall times,
  and the time the balancer switch itself took.

It prints the figures and the number of requests that failed during each run.
It asserts nothing; every container is destroyed at the end, also on error.
Exit status: 0 when every run completed, 1 when one failed, 2 without Docker.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 900.0


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def runner(stack: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "runner", *args, "-f", str(stack)], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT)
    return time.perf_counter() - started, proc


def runner_json(stack: Path, *args: str) -> tuple[float, dict[str, Any]]:
    seconds, proc = runner(stack, *args, "--format", "json")
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"runner {' '.join(args)} gave no report (exit {proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}") from None
    if proc.returncode != 0:
        report["_error"] = proc.stderr[-3000:]
    return seconds, report


class Traffic(threading.Thread):
    """Requests through the balancer, one after the other, until stopped; counts failures."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.ok, self.failed = url, 0, 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    response.read()
                self.ok += 1
            except Exception:  # every failure counts, whatever its kind
                self.failed += 1
            time.sleep(0.02)

    def stop(self) -> dict[str, int]:
        self.halt.set()
        self.join(timeout=30)
        return {"requests": self.ok + self.failed, "failed": self.failed}


def make_stack(workdir: Path, hosts: int, batch: int) -> Path:
    app = workdir / "hello"
    shutil.copytree(REPO / "apps" / "hello", app)
    document = {
        "stack": {"name": f"benchdeploy{uuid.uuid4().hex[:6]}", "provider": "docker",
                  "ssh": {"user": "root", "host_key_policy": "accept-new"},
                  "cookbooks": [{"path": str(REPO / "cookbooks")}]},
        "layers": {
            "lb": {"recipes": {"setup": ["haproxy"], "configure": ["haproxy::configure"]}},
            "app": {"recipes": {"setup": ["nodejs_demo::setup"], "deploy": ["nodejs_demo::deploy"]}},
        },
        "instances": {"lb1": {"layers": ["lb"], "ports": [80]},
                      **{f"app{i}": {"layers": ["app"]} for i in range(1, hosts + 1)}},
        "apps": {"hello": {"layers": ["app"], "source": {"type": "directory", "path": str(app)},
                           "environment": {"GREETING": "hi"},
                           "deploy": {"strategy": "rolling", "batch": batch,
                                      "health_check": {"command": "curl -fsS localhost:8080/health",
                                                       "retries": 10, "interval": 0.2}}}},
    }
    path = workdir / "stack.yml"
    path.write_text(json.dumps(document, indent=2) + "\n")  # JSON is YAML
    return path


def lb_url(stack: Path) -> str:
    _, proc = runner(stack, "instances", "list", "--format", "json")
    for item in json.loads(proc.stdout)["instances"]:
        if item["instance"] == "lb1":
            ports = item.get("ports") or {}
            port = ports.get("80") or ports.get(80)
            if isinstance(port, dict):
                port = port.get("port")
            return f"http://127.0.0.1:{port}/"
    raise SystemExit("lb1 publishes no port 80")


def measured(stack: Path, url: str, *args: str) -> dict[str, Any]:
    traffic = Traffic(url)
    traffic.start()
    time.sleep(0.5)
    try:
        seconds, report = runner_json(stack, *args)
    finally:
        time.sleep(0.5)
        counts = traffic.stop()
    return {"command": " ".join(args), "seconds": round(seconds, 2), "ok": "_error" not in report,
            "error": report.get("_error"), "batches": report.get("batches", []),
            "timings": report.get("timings", {}), "traffic": counts,
            "hosts_ok": sum(1 for h in report.get("hosts", []) if h.get("ok"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10, help="app hosts (default 10)")
    parser.add_argument("--batch", type=int, default=2, help="hosts per rolling batch (default 2)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        say("no Docker engine answers (run scripts/ensure-docker as root)")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="runner-bench-deploy-"))
    stack = make_stack(workdir, args.hosts, args.batch)
    figures: dict[str, Any] = {"hosts": args.hosts, "batch": args.batch, "cpus": os.cpu_count()}
    try:
        say(f"starting {args.hosts + 1} Docker hosts")
        seconds, proc = runner(stack, "instances", "start", "--no-lifecycle")
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        figures["start_seconds"] = round(seconds, 1)
        say("converging (HAProxy and the app's runtime from apt)")
        seconds, proc = runner(stack, "converge")
        if proc.returncode != 0:
            raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
        figures["converge_seconds"] = round(seconds, 1)
        say("first deploy")
        seconds, report = runner_json(stack, "deploy", "hello", "--strategy", "all_at_once")
        if "_error" in report:
            raise SystemExit(report["_error"])
        figures["first_deploy_seconds"] = round(seconds, 2)
        url = lb_url(stack)
        say(f"rolling deploy, batch {args.batch}, under traffic through {url}")
        figures["rolling"] = measured(stack, url, "deploy", "hello")
        say("blue/green deploy, then the switch back")
        figures["blue_green_deploy"] = measured(stack, url, "deploy", "hello", "--strategy", "blue_green")
        figures["blue_green_switch_back"] = measured(stack, url, "rollback", "hello", "--strategy", "blue_green")
    finally:
        say("destroying the hosts")
        runner(stack, "instances", "destroy")
        shutil.rmtree(workdir, ignore_errors=True)
    print_figures(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    runs = ("rolling", "blue_green_deploy", "blue_green_switch_back")
    return 0 if all(figures[r]["ok"] for r in runs) else 1


def print_figures(f: dict[str, Any]) -> None:
    print(f"\nrunner deploy benchmark: {f['hosts']} app hosts + 1 HAProxy host, {f['cpus']} CPUs")
    print(f"  start {f['start_seconds']} s, converge {f['converge_seconds']} s, "
          f"first deploy (all at once) {f['first_deploy_seconds']} s")
    for key, title in (("rolling", f"rolling deploy, batch {f['batch']}"), ("blue_green_deploy", "blue/green deploy"),
                       ("blue_green_switch_back", "blue/green switch back (rollback)")):
        run = f[key]
        traffic = run["traffic"]
        print(f"\n{title}: {run['seconds']} s wall, {run['hosts_ok']} hosts changed"
              f"{'' if run['ok'] else ' (FAILED)'}; requests through the lb meanwhile: "
              f"{traffic['requests']}, failed: {traffic['failed']}")
        for batch in run["batches"]:
            print(f"  {batch['label']:<9} {','.join(batch['hosts']):<14} {batch['seconds']:6.2f} s, "
                  f"health checks {batch['health_seconds']:5.2f} s")
        for label, seconds in run["timings"].items():
            print(f"  {label}: {seconds:.3f} s")
        if run.get("error"):
            print("  error: " + run["error"][-800:])


if __name__ == "__main__":
    sys.exit(main())
