"""Helpers shared by the deploy tests: the sample app and cookbooks as a stack, and looking at hosts."""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SECRET = "Pa55-w0rd-never-shown"
HOSTILE = "it's $(touch /tmp/pwned) `touch /tmp/pwned2`; \"dq\" & x"
HEALTH = "curl -fsS localhost:8080/health"


def runner(stack_file: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *args, "-f", str(stack_file)],
                          capture_output=True, text=True, timeout=timeout)


def runner_json(stack_file: Path, *args: str) -> tuple[int, dict, str]:
    proc = runner(stack_file, *args, "--format", "json")
    try:
        return proc.returncode, json.loads(proc.stdout), proc.stderr
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON report (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from None


def app_copy(tmp_path: Path) -> Path:
    app = tmp_path / "hello-app"
    shutil.copytree(REPO / "apps" / "hello", app)
    return app


def write_hook(app: Path, name: str, body: str) -> None:
    hook = app / "deploy" / name
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\n" + body + "\n")
    hook.chmod(0o755)


def app_stack(app: Path, **deploy) -> dict:
    """A stack document with the sample cookbooks and the app on layer ``app``."""
    return {
        "stack": {"cookbooks": [{"path": str(REPO / "cookbooks")}]},
        "layers": {"app": {"recipes": {"setup": ["nodejs_demo::setup"], "deploy": ["nodejs_demo::deploy"],
                                       "undeploy": ["nodejs_demo::undeploy"]}}},
        "apps": {"hello": {"layers": ["app"], "source": {"type": "directory", "path": str(app)},
                           "environment": {"GREETING": "hi", "DB_PASSWORD": {"value": SECRET, "secure": True},
                                           "HOSTILE": HOSTILE},
                           "deploy": {"strategy": "all_at_once", "health_check": {"command": HEALTH}, **deploy}}},
    }


def converged(hosts) -> None:
    proc = runner(hosts.stack.path, "converge")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def sh(hosts, name: str, command: str) -> str:
    return hosts.exec(name, "sh", "-c", command).stdout.strip()


def current(hosts, name: str) -> str:
    return sh(hosts, name, "readlink /srv/hello/current || true")


def served_release(hosts, name: str) -> str:
    """The release the running app answers with (from inside the host)."""
    text = sh(hosts, name, "curl -fsS localhost:8080/ || true")
    return text.rsplit("release ", 1)[-1] if "release " in text else text


def by_host(report: dict) -> dict[str, dict]:
    return {h["host"]: h for h in report["hosts"]}


def get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def answers(url: str, count: int) -> collections.Counter:
    """Which (host, release) answered ``count`` requests through the balancer."""
    seen: collections.Counter = collections.Counter()
    for _ in range(count):
        text = get(url).strip()
        host = text.split(" from ", 1)[1].split(",", 1)[0]
        seen[(host, text.rsplit("release ", 1)[1])] += 1
    return seen


def wait_for(url: str, hosts: set[str], tries: int = 60) -> None:
    """Until every host in ``hosts`` has answered through the balancer (bounded)."""
    seen: set[str] = set()
    for _ in range(tries):
        try:
            seen |= {host for host, _ in answers(url, 6)}
        except (OSError, urllib.error.URLError, IndexError):
            pass
        if hosts <= seen:
            return
        time.sleep(0.5)
    raise AssertionError(f"only {sorted(seen)} answered through the balancer, expected {sorted(hosts)}")


class Traffic(threading.Thread):
    """A steady stream of requests through the balancer; counts answers and failures."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.ok, self.failures = url, 0, []
        self.releases: collections.Counter = collections.Counter()
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                text = get(self.url)
                self.ok += 1
                self.releases[text.strip().rsplit("release ", 1)[-1]] += 1
            except Exception as exc:  # every failed request is counted, whatever its kind
                self.failures.append(repr(exc))
            time.sleep(0.01)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)
