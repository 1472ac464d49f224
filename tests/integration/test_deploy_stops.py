"""Deploys that must stop, and say so: a balancer that fails mid-run, an lb instance that cannot be reached.

Docker hosts; HAProxy from the sample haproxy cookbook where a balancer must work.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from deploy_support import HEALTH, app_copy, app_stack, by_host, converged, current, runner, runner_json, sh, wait_for

from runner.balancers.api import MAINT, READY
from runner.deploy.balancer import open_balancer
from runner.model.loader import load_stack
from runner.plugin.registry import Registry

SOCKET = "/run/haproxy/admin.sock"

#: app1's health check waits for the test (bounded) when /tmp/gate exists: the test breaks the balancer then
GATED_HEALTH = ("if [ -f /tmp/gate ]; then touch /tmp/checking; i=0; "
                "while [ ! -f /tmp/go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; fi; " + HEALTH)


def balanced_stack(app, **deploy) -> dict:
    config = app_stack(app, **deploy)
    config["layers"]["lb"] = {"recipes": {"setup": ["haproxy"], "configure": ["haproxy::configure"]}}
    config["instances"] = {"lb1": {"layers": ["lb"], "ports": [80]}}
    return config


def wait_for_file(hosts, name: str, path: str, proc: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if hosts.exec(name, "test", "-e", path, check=False).returncode == 0:
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the deploy ended before {name} had {path}:\n{out}\n{err}")
        time.sleep(0.2)
    raise AssertionError(f"{name} never had {path}")


def balancer_states(hosts) -> dict[str, str]:
    opened = open_balancer(load_stack(hosts.stack.path), Registry.load(), "hello")
    assert opened is not None
    with opened:
        return opened.states()


def test_a_rolling_deploy_stops_when_a_batch_does_not_rejoin_the_balancer(docker_hosts, tmp_path) -> None:
    app = app_copy(tmp_path)
    config = balanced_stack(app, strategy="rolling", batch=1, health_check={"command": GATED_HEALTH})
    hosts = docker_hosts(2, config=config)
    converged(hosts)  # setup deploys the app to app1 and app2
    url = f"http://127.0.0.1:{hosts.host('lb1').ports[80]}/"
    wait_for(url, {"app1", "app2"})
    before = {name: current(hosts, name) for name in ("app1", "app2")}

    sh(hosts, "app1", "touch /tmp/gate")
    proc = subprocess.Popen([sys.executable, "-m", "runner", "deploy", "hello", "--format", "json",
                             "-f", str(hosts.stack.path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_file(hosts, "app1", "/tmp/checking", proc)  # batch 1: app1 drained and changed
        sh(hosts, "lb1", f"mv {SOCKET} {SOCKET}.away")  # HAProxy's admin socket is gone: enable fails
        sh(hosts, "app1", "touch /tmp/go")
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    sh(hosts, "lb1", f"mv {SOCKET}.away {SOCKET}")
    assert proc.returncode == 1, out + err
    report = json.loads(out)
    hosts_ = by_host(report)
    assert hosts_["app1"]["step"] == "balancer:enable", hosts_["app1"]
    assert hosts_["app2"]["result"] == "skipped", hosts_["app2"]
    assert [b["hosts"] for b in report["batches"]] == [["app1"]], "batch 2 must not start"
    assert "balancer" in report["stopped"] and "batch 1" in report["stopped"], report["stopped"]
    assert current(hosts, "app2") == before["app2"], "app2 must not be touched"
    assert balancer_states(hosts) == {"app1": MAINT, "app2": READY}, "app2 must still serve"

    # the report names the server left out and the command that puts it back; it works as pasted
    assert [d["server"] for d in report["drained"]] == ["app1"]
    (command,) = report["drained"][0]["put_back"].values()
    assert list(report["drained"][0]["put_back"]) == ["lb1"]
    pasted = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)
    assert pasted.returncode == 0, pasted.stdout + pasted.stderr
    assert balancer_states(hosts) == {"app1": READY, "app2": READY}
    wait_for(url, {"app1", "app2"})


def test_the_text_summary_names_the_drained_server_and_its_command(docker_hosts, tmp_path) -> None:
    """The same failure as above, with the lb instance stopped between batches, seen in the text summary."""
    app = app_copy(tmp_path)
    config = balanced_stack(app, strategy="rolling", batch=1, health_check={"command": GATED_HEALTH})
    config["stack"]["ssh"] = {"connect_timeout": 5}
    hosts = docker_hosts(2, config=config)
    converged(hosts)
    sh(hosts, "app1", "touch /tmp/gate")
    proc = subprocess.Popen([sys.executable, "-m", "runner", "deploy", "hello", "-f", str(hosts.stack.path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_file(hosts, "app1", "/tmp/checking", proc)
        hosts.stop("lb1")  # the lb host goes away mid-deploy
        sh(hosts, "app1", "touch /tmp/go")
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, out + err
    assert "app1: failed at balancer:enable" in err
    assert "load balancer: drain app2" not in err, "batch 2 must not be drained"
    assert "still out of the load balancer" in out, out
    line = next(line for line in out.splitlines() if line.strip().startswith("app1 on lb1:"))
    assert "set server app/app1 state ready" in line and "ssh " in line, line


# -- lb instances that cannot be reached ---------------------------------------------------------


@pytest.fixture(scope="module")
def plain_lb(docker_hosts_module, tmp_path_factory):
    """app1 with the sample app, lb1 on layer lb (no HAProxy: no balancer command gets that far)."""
    app = app_copy(tmp_path_factory.mktemp("app"))
    config = app_stack(app)
    config["stack"]["ssh"] = {"connect_timeout": 3}
    config["layers"]["lb"] = {}
    config["instances"] = {"app1": {"layers": ["app"]}, "lb1": {"layers": ["lb"]}}
    hosts = docker_hosts_module(names=["app1", "lb1"], layers=("app",), config=config)
    converged(hosts)
    return hosts


def assert_failed_before_any_app_host(hosts, stack_file, command: str, strategy: str, *needles: str) -> None:
    release = current(hosts, "app1")
    proc = runner(stack_file, command, "hello", "--strategy", strategy)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = proc.stdout + proc.stderr
    assert "internal error" not in text and "Traceback" not in text, text
    for needle in needles:
        assert needle in text, text
    assert current(hosts, "app1") == release, "no app host may be touched"
    code, report, err = runner_json(stack_file, command, "hello", "--strategy", strategy)
    assert code == 1 and not report["batches"], report
    assert by_host(report)["app1"]["result"] == "skipped" and by_host(report)["app1"]["release"] is None, report
    assert all(needle in report["stopped"] for needle in needles), report["stopped"]


def test_an_lb_instance_on_a_closed_port(plain_lb) -> None:
    hosts = plain_lb
    # sshd on lb1 moves to another port: lb1's SSH port no longer answers
    sh(hosts, "lb1", "echo 'Port 2222' > /etc/ssh/sshd_config.d/zz-moved.conf && kill -HUP 1")
    try:
        time.sleep(1)
        code, report, err = runner_json(hosts.stack.path, "deploy", "hello", "--strategy", "all_at_once")
        assert code == 0, err
        assert by_host(report)["app1"]["result"] == "ok"
        for command in ("deploy", "rollback"):
            for strategy in ("rolling", "blue_green"):
                assert_failed_before_any_app_host(hosts, hosts.stack.path, command, strategy, "lb1")
    finally:
        sh(hosts, "lb1", "rm -f /etc/ssh/sshd_config.d/zz-moved.conf && kill -HUP 1")


def test_an_lb_instance_that_accepts_tcp_and_never_speaks_ssh(plain_lb) -> None:
    hosts = plain_lb
    subprocess.run(["docker", "pause", hosts.container("lb1")], check=True, capture_output=True, timeout=60)
    try:
        started = time.monotonic()
        assert_failed_before_any_app_host(hosts, hosts.stack.path, "deploy", "rolling", "lb1")
        assert time.monotonic() - started < 120
        code, report, err = runner_json(hosts.stack.path, "deploy", "hello", "--strategy", "all_at_once")
        assert code == 0, err
    finally:
        subprocess.run(["docker", "unpause", hosts.container("lb1")], capture_output=True, timeout=60)


def test_an_lb_layer_without_instances(plain_lb) -> None:
    hosts = plain_lb
    document = json.loads(hosts.stack.path.read_text())
    del document["instances"]["lb1"]
    stack_file = hosts.stack.path.parent / "no-lb.yml"
    stack_file.write_text(json.dumps(document, indent=2) + "\n")

    proc = runner(stack_file, "validate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning" in proc.stderr and "'lb'" in proc.stderr and "no instances" in proc.stderr, proc.stderr
    assert "hello" in proc.stderr

    code, report, err = runner_json(stack_file, "deploy", "hello")  # all_at_once: no balancer needed
    assert code == 0, err
    assert_failed_before_any_app_host(hosts, stack_file, "deploy", "rolling", "'lb'")
    assert_failed_before_any_app_host(hosts, stack_file, "rollback", "rolling", "'lb'")
