"""Helpers shared by the deploy tests: the sample app and cookbooks as a stack, and looking at hosts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
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
