"""examples/plugin/runner-example, installed with pip like any plugin: its resource type and its strategy.

The distribution is pip-installed into a directory of its own that goes on
PYTHONPATH of the `runner` subprocesses (as tests/unit/test_plugins.py does),
so the test environment itself never changes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "plugin"
CONF = "/etc/example.conf"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a `runner` that finds runner-example through its entry point."""
    work = tmp_path_factory.mktemp("example-plugin")
    source = work / "runner-example"
    shutil.copytree(EXAMPLE / "runner-example", source)  # the build writes beside the sources: not in the repo
    site = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "install", "--no-deps",
                    "--no-build-isolation", "--target", str(site), str(source)],
                   check=True, capture_output=True, timeout=180)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


def runner(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *args], capture_output=True, text=True, timeout=600,
                          env=env)


def runner_json(env: dict[str, str], stack_file: Path, *args: str) -> dict:
    proc = runner(env, *args, "-f", str(stack_file), "--format", "json")
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON report (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from None
    assert proc.returncode == 0, json.dumps(report, indent=2) + proc.stderr
    return report


def test_runner_plugins_lists_the_example(plugin_env) -> None:
    proc = runner(plugin_env, "plugins", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    mine = {p["name"]: p for p in json.loads(proc.stdout)}["example"]
    assert mine["distribution"] == "runner-example" and not mine["builtin"]
    assert mine["resource_types"] == ["line_in_file"] and mine["strategies"] == ["canary"]


def test_converge_is_idempotent_and_canary_deploys_one_host_first(plugin_env, docker_hosts) -> None:
    hosts = docker_hosts(2, config={
        "stack": {"cookbooks": [{"path": str(EXAMPLE / "cookbooks")}]},
        "layers": {"app": {"recipes": {"configure": ["example_lines"]}}},
        "apps": {"hello": {"layers": ["app"], "source": {"type": "directory", "path": str(REPO / "apps" / "hello")},
                           "deploy": {"health_check": {"command": "test -f /srv/hello/current/server.py"}}}},
    })
    stack_file = hosts.stack.path
    first, second = hosts.names
    hosts.exec(first, "sh", "-c", f"printf 'obsolete = yes\\nkeep = me' > {CONF}")

    report = runner_json(plugin_env, stack_file, "converge")
    lines = {h["host"]: h for h in report["hosts"]}
    assert lines[first]["changed"] >= 3 and all(h["failed"] == 0 for h in report["hosts"])
    expected = ["greeting = hello", "quoted = it's \"fine\" $(touch /tmp/pwned)"]
    assert hosts.exec(first, "cat", CONF).stdout.splitlines() == ["keep = me", *expected]
    assert hosts.exec(second, "cat", CONF).stdout.splitlines() == expected
    assert hosts.exec(first, "test", "-e", "/tmp/pwned", check=False).returncode == 1

    again = runner_json(plugin_env, stack_file, "converge")
    assert [h["changed"] for h in again["hosts"]] == [0, 0], again
    assert all(h["remote_commands"] == 1 for h in again["hosts"]), "a no-op converge costs one command per host"

    deploy = runner_json(plugin_env, stack_file, "deploy", "hello", "--strategy", "canary")
    assert deploy["strategy"] == "canary"
    assert [(b["label"], b["hosts"]) for b in deploy["batches"]] == [("canary", [first]), ("rest", [second])]
    assert all(h["result"] == "ok" for h in deploy["hosts"]), deploy
    for name in hosts.names:
        link = hosts.exec(name, "readlink", "/srv/hello/current").stdout.strip()
        assert link == f"releases/{deploy['release']}"
