"""OpsWorks instance states on Docker hosts, through the real command line: setup_failed, running_setup,
connection_lost, seen by `runner status` and `runner instances list`, also from a second process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_converge import converge_json, runner, stack_config, write_cookbook

# setup fails while /tmp/fail-setup exists on the host: the recipe is "fixed" by removing it
FAILING_SETUP = 'execute("test ! -e /tmp/fail-setup || { echo setup refused >&2; exit 3; }")\n'
# setup waits (60 s at most) for /tmp/go on the host: a setup that is under way for as long as a test needs
WAITING_SETUP = ('execute("i=0; while [ ! -e /tmp/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; '
                 'test -e /tmp/go")\n')
CONFIGURE = 'file("/tmp/configured", content=instance.name + "\\n")\n'


def _stack(docker_hosts, tmp_path: Path, setup: str, count: int):
    books = write_cookbook(tmp_path / "books", "boot", {"setup": setup, "configure": CONFIGURE})
    return docker_hosts(count, layers=("app",), config=stack_config(books, ["boot::configure"], ["boot::setup"]))


def _json(stack_file: Path, *args: str) -> dict:
    proc = runner(stack_file, *args, "--format", "json", timeout=120)
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from None


def statuses(stack_file: Path) -> dict[str, dict]:
    """Per instance: its row in `runner status --format json`."""
    return {i["instance"]: i for i in _json(stack_file, "status")["instances"]}


def listed(stack_file: Path) -> dict[str, dict]:
    """Per instance: its row in `runner instances list --format json`."""
    return {i["instance"]: i for i in _json(stack_file, "instances", "list")["instances"]}


def test_a_failed_setup_is_setup_failed_until_a_converge_sets_the_host_up(docker_hosts, tmp_path) -> None:
    hosts = _stack(docker_hosts, tmp_path, FAILING_SETUP, 2)
    stack_file = hosts.stack.path
    hosts.exec("app1", "touch", "/tmp/fail-setup")

    code, report, _ = converge_json(stack_file)
    assert code == 1
    assert report["hosts"][0]["host"] == "app1" and not report["hosts"][0]["ok"]
    for rows in (statuses(stack_file), listed(stack_file)):
        assert rows["app1"]["status"] == "setup_failed" and rows["app1"]["provider_status"] == "online"
        assert "execute" in rows["app1"]["reason"]
        assert rows["app2"]["status"] == "online" and "provider_status" not in rows["app2"]
    assert statuses(stack_file)["app1"]["setup"] is False
    record = json.loads((stack_file.parent / ".runner" / "instances.json").read_text())
    assert set(record["stacks"][hosts.stack.name]) == {"app1"}
    text = runner(stack_file, "instances")
    assert "setup_failed" in text.stdout and "app1: setup_failed: " in text.stderr

    code, _, _ = converge_json(stack_file, command="configure")  # configure only: the failure is still there
    assert code == 0 and listed(stack_file)["app1"]["status"] == "setup_failed"

    # a host set up before whose setup is run again and fails: setup_failed too, though its marker stays
    hosts.exec("app1", "rm", "/tmp/fail-setup")
    hosts.exec("app2", "touch", "/tmp/fail-setup")
    code, _, _ = converge_json(stack_file, "--instance", "app2", command="setup")
    assert code == 1
    rows = statuses(stack_file)
    assert rows["app2"]["status"] == "setup_failed" and rows["app2"]["setup"] is True

    hosts.exec("app2", "rm", "/tmp/fail-setup")
    code, report, _ = converge_json(stack_file)  # sets both up again: app1 has no marker, app2 is remembered
    assert code == 0, report
    assert {h["host"]: h["ran_setup"] for h in report["hosts"]} == {"app1": True, "app2": True}
    for rows in (statuses(stack_file), listed(stack_file)):
        assert {n: (r["status"], r["reason"]) for n, r in rows.items()} == {"app1": ("online", None),
                                                                           "app2": ("online", None)}
    code, report, _ = converge_json(stack_file)  # and from now on converge only configures
    assert code == 0 and [h["ran_setup"] for h in report["hosts"]] == [False, False]


def _wait_for(stack_file: Path, name: str, status: str, tries: int = 120) -> dict:
    """Poll `runner instances list` from this (second) process until ``name`` shows ``status`` (bounded)."""
    rows: dict[str, dict] = {}
    for _ in range(tries):
        rows = listed(stack_file)
        if rows[name]["status"] == status:
            return rows
        time.sleep(0.25)
    raise AssertionError(f"{name} never showed {status}: {rows.get(name)}")


def test_running_setup_is_seen_from_another_process_while_the_setup_runs(docker_hosts, tmp_path) -> None:
    hosts = _stack(docker_hosts, tmp_path, WAITING_SETUP, 1)
    stack_file = hosts.stack.path
    run = subprocess.Popen([sys.executable, "-m", "runner", "converge", "-f", str(stack_file)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        rows = _wait_for(stack_file, "app1", "running_setup")
        assert rows["app1"]["provider_status"] == "online" and str(run.pid) in rows["app1"]["reason"]
        status = statuses(stack_file)["app1"]
        assert status["status"] == "running_setup" and status["setup"] is False
        # a second setup meanwhile finds the host busy: it never began, and leaves the first run's entry
        code, report, _ = converge_json(stack_file, command="setup")
        assert code == 1 and report["hosts"][0]["cause"] == "locked"
        rows = listed(stack_file)
        assert rows["app1"]["status"] == "running_setup" and str(run.pid) in rows["app1"]["reason"]
        hosts.exec("app1", "touch", "/tmp/go")
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate(timeout=30)
    assert run.returncode == 0, err
    assert listed(stack_file)["app1"]["status"] == "online"
    assert statuses(stack_file)["app1"]["status"] == "online"


def test_a_setup_whose_runner_died_reads_as_setup_failed(docker_hosts, tmp_path) -> None:
    hosts = _stack(docker_hosts, tmp_path, WAITING_SETUP, 1)
    stack_file = hosts.stack.path
    run = subprocess.Popen([sys.executable, "-m", "runner", "converge", "-f", str(stack_file)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(stack_file, "app1", "running_setup")
    finally:
        os.kill(run.pid, signal.SIGKILL)  # no chance to write anything
        run.wait(30)
    rows = listed(stack_file)
    assert rows["app1"]["status"] == "setup_failed"
    assert rows["app1"]["reason"] == "the run that set it up ended without finishing"
    hosts.exec("app1", "touch", "/tmp/go")  # let the orphaned setup step on the host end


def test_a_setup_interrupted_with_ctrl_c_is_recorded_as_failed(docker_hosts, tmp_path) -> None:
    hosts = _stack(docker_hosts, tmp_path, WAITING_SETUP, 1)
    stack_file = hosts.stack.path
    run = subprocess.Popen([sys.executable, "-m", "runner", "converge", "-f", str(stack_file)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(stack_file, "app1", "running_setup")
        os.kill(run.pid, signal.SIGINT)
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate(timeout=30)
        hosts.exec("app1", "touch", "/tmp/go")
    assert run.returncode != 0 and "Traceback" not in err
    rows = listed(stack_file)
    assert rows["app1"]["status"] == "setup_failed"
    assert rows["app1"]["reason"] != "the run that set it up ended without finishing"  # written by the run itself
    record = json.loads((stack_file.parent / ".runner" / "instances.json").read_text())
    assert record["stacks"][hosts.stack.name]["app1"]["status"] == "setup_failed"


def test_an_online_host_ssh_cannot_reach_is_connection_lost(docker_hosts, tmp_path) -> None:
    hosts = _stack(docker_hosts, tmp_path, 'file("/tmp/set-up", content="y")\n', 2)
    stack_file = hosts.stack.path
    assert {n: r["status"] for n, r in statuses(stack_file).items()} == {"app1": "online", "app2": "online"}
    # sshd still answers, the controller's key no longer gets in
    hosts.exec("app1", "sh", "-c", "rm -f /root/.ssh/authorized_keys /home/*/.ssh/authorized_keys")

    proc = runner(stack_file, "status", "--format", "json", timeout=120)
    assert proc.returncode == 1
    rows = {i["instance"]: i for i in json.loads(proc.stdout)["instances"]}
    assert rows["app1"]["status"] == "connection_lost" and rows["app1"]["provider_status"] == "online"
    assert "authentication failed" in rows["app1"]["error"] and rows["app1"]["setup"] is None
    assert rows["app2"]["status"] == "online"
    text = runner(stack_file, "status")
    assert "connection_lost" in text.stdout and text.returncode == 1
    # the provider alone cannot tell: the container runs
    assert listed(stack_file)["app1"]["status"] == "online"

    # a host stopped behind runner's back is what its provider says: stopped, and runs leave it out
    subprocess.run(["docker", "stop", "--time", "1", hosts.container("app2")], check=True, capture_output=True,
                   timeout=60)
    assert statuses(stack_file)["app2"]["status"] == listed(stack_file)["app2"]["status"] == "stopped"
    code, report, _ = converge_json(stack_file, "--instance", "app2")
    assert code == 1 and report["hosts"][0]["error"] == "instance is stopped"
