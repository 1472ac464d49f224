"""What a plain `runner deploy` costs on a host: at most three remote commands, with the app's lock held by
the first of them until the run ends (an overlapping deploy is refused at every step)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from deploy_support import app_copy, app_stack, by_host, converged, current, runner_json, sh, write_hook

#: a hook that says it runs, then waits (at most 60 s) for the test to let it go on
WAIT = 'touch /tmp/{name}-in; i=0; while [ ! -e /tmp/{name}-go ] && [ $i -lt 300 ]; do sleep 0.2; i=$((i+1)); done'


def _wait_for_file(hosts, host: str, path: str, first: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while sh(hosts, host, f"test -e {path} && echo yes || true") != "yes":
        assert first.poll() is None, "the first deploy ended before its hook ran"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.3)


def _refused(hosts) -> None:
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    assert code == 1, err
    entry = by_host(report)[hosts.names[0]]
    assert entry["step"] == "lock" and "another deploy, rollback or undeploy of hello" in entry["error"], entry
    assert entry["remote_commands"] == 1, "a refused deploy stops at its first command"


def test_a_plain_deploy_sends_three_commands_and_holds_the_lock_throughout(docker_hosts, tmp_path) -> None:
    app = app_copy(tmp_path)
    hosts = docker_hosts(1, config=app_stack(app))  # all_at_once, with a health check
    converged(hosts)
    name = hosts.names[0]
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    assert code == 0, err
    assert report["hosts"][0]["remote_commands"] <= 3, report["hosts"][0]

    # hooks in the second command (before_migrate) and the third (after_restart) wait for the test
    write_hook(app, "before_migrate", WAIT.format(name="migrate"))
    write_hook(app, "after_restart", WAIT.format(name="restart"))
    first = subprocess.Popen([sys.executable, "-m", "runner", "deploy", "hello", "-f", str(hosts.stack.path),
                              "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_file(hosts, name, "/tmp/migrate-in", first)
        _refused(hosts)
        sh(hosts, name, "touch /tmp/migrate-go")
        _wait_for_file(hosts, name, "/tmp/restart-in", first)
        _refused(hosts)
        sh(hosts, name, "touch /tmp/restart-go")
        out, errors = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 0, errors
    report = json.loads(out)
    host = report["hosts"][0]
    assert host["result"] == "ok" and host["remote_commands"] <= 3, host
    assert current(hosts, name) == f"releases/{report['release']}"
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")  # the lock went with the first run
    assert code == 0, err
