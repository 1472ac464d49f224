"""Two runs at once on one host, and a runner killed mid-step, against real Docker hosts.

Recipe runs (converge, setup, configure, execute_recipes, shutdown) hold the
host's run lock exclusively; deploys, rollbacks and undeploys hold it shared
(plus their app's lock), so a second run is refused at once and says who
holds the host. A killed runner's remote step is stopped with its connection.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_converge import by_host, converge_json, runner, stack_config, write_cookbook

SLOW = '''
    directory("/opt/l")
    execute("echo start >> /opt/l/count; sleep 8; echo end >> /opt/l/count")
'''


def start(stack_file: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "runner", *args, "-f", str(stack_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_line(proc: subprocess.Popen[str], text: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    assert proc.stdout is not None
    for line in proc.stdout:
        if text in line:
            return
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"the runner never said {text!r}")


def app_dir(tmp_path: Path, hooks: dict[str, str]) -> Path:
    app = tmp_path / "app"
    (app / "deploy").mkdir(parents=True)
    (app / "index.txt").write_text("hello\n")
    for name, body in hooks.items():
        hook = app / "deploy" / name
        hook.write_text("#!/bin/sh\n" + body + "\n")
        hook.chmod(0o755)
    return app


def app_config(books: Path, app: Path) -> dict:
    config = stack_config(books, ["l::quick"], setup=["l::quick"])
    config["apps"] = {"hello": {"layers": ["app"], "source": {"type": "directory", "path": str(app)},
                                "deploy": {"strategy": "all_at_once"}}}
    return config


def test_a_second_converge_is_refused_and_says_who_holds_the_host(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path, "l", {"default": SLOW})
    hosts = docker_hosts(1, config=stack_config(books, ["l"], setup=[]))
    name = hosts.names[0]
    first = start(hosts.stack.path, "converge")
    try:
        wait_for_line(first, "applying")
        code, report, err = converge_json(hosts.stack.path)
        rest, _ = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, rest
    assert code == 1, err
    error = by_host(report)[name]["error"]
    assert by_host(report)[name]["cause"] == "locked", report
    assert "converge" in error and f"pid {first.pid}" in error and "@" in error and "since" in error, error
    assert by_host(report)[name]["remote_commands"] == 1
    assert hosts.exec(name, "cat", "/opt/l/count").stdout.split() == ["start", "end"], "applied once, not twice"
    code, report, err = converge_json(hosts.stack.path)  # the lock went with the first runner
    assert code == 0, err
    lock = hosts.exec(name, "cat", "/var/lib/runner/run.lock").stdout
    assert "converge" in lock and "pid" in lock, lock


def test_a_no_op_converge_costs_one_command_under_the_lock(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path, "l", {"default": 'file("/opt/quiet", content="x\\n")'})
    hosts = docker_hosts(1, config=stack_config(books, ["l"], setup=[]))
    assert converge_json(hosts.stack.path)[0] == 0
    code, report, err = converge_json(hosts.stack.path)
    assert code == 0, err
    assert report["hosts"][0]["remote_commands"] == 1 and not report["hosts"][0]["error"]


def test_setup_deploys_under_its_lock_and_deploy_and_converge_exclude_each_other(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path, "l", {"quick": 'file("/opt/quick", content="q\\n")',
                                           "default": SLOW})
    app = app_dir(tmp_path, {"before_migrate": "sleep 6"})
    hosts = docker_hosts(1, config=app_config(books, app))
    name = hosts.names[0]
    code, report, err = converge_json(hosts.stack.path)  # setup, then its deploy, under one lock: no deadlock
    assert code == 0, (report, err)
    assert by_host(report)[name]["ran_setup"]
    deploy = start(hosts.stack.path, "deploy", "hello")
    try:
        wait_for_line(deploy, "staging release")
        code, report, err = converge_json(hosts.stack.path)
        rest, _ = deploy.communicate(timeout=120)
    finally:
        if deploy.poll() is None:
            deploy.kill()
    assert deploy.returncode == 0, rest
    assert code == 1 and by_host(report)[name]["cause"] == "locked", report
    assert "deploy" in by_host(report)[name]["error"] and f"pid {deploy.pid}" in by_host(report)[name]["error"]
    converge = start(hosts.stack.path, "execute-recipes", "l::default")
    try:
        wait_for_line(converge, "applying")
        proc = runner(hosts.stack.path, "deploy", "hello", "--format", "json")
        rest, _ = converge.communicate(timeout=120)
    finally:
        if converge.poll() is None:
            converge.kill()
    assert converge.returncode == 0, rest
    assert proc.returncode == 1, proc.stdout + proc.stderr
    entry = by_host(json.loads(proc.stdout))[name]
    assert entry["step"] == "lock" and "execute_recipes" in entry["error"] and f"pid {converge.pid}" in entry["error"]


def test_a_killed_runner_stops_its_deploy_hook_on_the_host(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path, "l", {"quick": 'file("/opt/quick", content="q\\n")'})
    app = app_dir(tmp_path, {})
    hosts = docker_hosts(1, config=app_config(books, app))
    name = hosts.names[0]
    code, report, err = converge_json(hosts.stack.path)
    assert code == 0, (report, err)
    hook = app / "deploy" / "before_migrate"
    hook.write_text("#!/bin/sh\necho hook-started; sleep 20; touch /tmp/hook-finished\n")
    hook.chmod(0o755)
    proc = start(hosts.stack.path, "deploy", "hello")
    try:
        wait_for_line(proc, "staging release")
        for _ in range(40):  # the hook is running on the host
            if "sleep 20" in hosts.exec(name, "ps", "-eo", "args").stdout:
                break
            time.sleep(0.25)
        else:
            raise AssertionError("the hook never started")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    for _ in range(20):
        if "sleep 20" not in hosts.exec(name, "ps", "-eo", "args").stdout:
            break
        time.sleep(0.25)
    else:
        raise AssertionError("the hook still runs 5 s after its runner was killed:\n"
                             + hosts.exec(name, "ps", "-eo", "pid,pgid,args").stdout)
    time.sleep(17)
    assert hosts.exec(name, "sh", "-c", "ls /tmp/hook-finished 2>&1 || true").stdout.count("No such file") == 1
    hook.write_text("#!/bin/sh\ntrue\n")
    proc2 = runner(hosts.stack.path, "deploy", "hello")
    assert proc2.returncode == 0, proc2.stdout + proc2.stderr


def test_a_host_without_setsid_runs_steps_as_before_and_warns(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path, "l", {"default": 'file("/opt/quiet", content="x\\n")'})
    hosts = docker_hosts(1, config=stack_config(books, ["l"], setup=[]))
    hosts.exec(hosts.names[0], "mv", "/usr/bin/setsid", "/usr/bin/setsid.hidden")
    proc = runner(hosts.stack.path, "converge")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning: no setsid on this host" in proc.stdout + proc.stderr
    assert hosts.exec(hosts.names[0], "cat", "/opt/quiet").stdout == "x\n"
