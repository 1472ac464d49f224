"""Deployments behind a real HAProxy (the sample haproxy cookbook) on Docker hosts.

Requests go from the test to the lb container's port published on 127.0.0.1.
"""

from __future__ import annotations

import json
import time

from deploy_support import Traffic, answers, app_copy, app_stack, by_host, converged, runner, runner_json, wait_for


def balanced_stack(app, app_hosts: int, **deploy) -> dict:
    config = app_stack(app, **deploy)
    config["layers"]["lb"] = {"recipes": {"setup": ["haproxy"], "configure": ["haproxy::configure"]}}
    config["instances"] = {"lb1": {"layers": ["lb"], "ports": [80]}}
    return config


def test_rolling_deploy_behind_haproxy_drops_no_request(docker_hosts, tmp_path) -> None:
    app = app_copy(tmp_path)
    hosts = docker_hosts(3, config=balanced_stack(app, 3, strategy="rolling", batch=1))
    converged(hosts)
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    assert code == 0, err
    first = report["release"]
    url = f"http://127.0.0.1:{hosts.host('lb1').ports[80]}/"
    wait_for(url, {"app1", "app2", "app3"})

    traffic = Traffic(url)
    traffic.start()
    try:
        time.sleep(1)
        code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
        time.sleep(1)
    finally:
        traffic.stop()
    assert code == 0, err
    second = report["release"]
    assert [b["hosts"] for b in report["batches"]] == [["app1"], ["app2"], ["app3"]]
    assert traffic.failures == [], f"{len(traffic.failures)} of {traffic.ok + len(traffic.failures)} requests failed"
    assert traffic.ok >= 50, f"too few requests made to tell: {traffic.ok}"
    assert traffic.releases[first] > 0 and traffic.releases[second] > 0
    seen = answers(url, 30)
    assert {host for host, _ in seen} == {"app1", "app2", "app3"}
    assert {release for _, release in seen} == {second}


def test_blue_green_switches_and_switches_back(docker_hosts, tmp_path) -> None:
    app = app_copy(tmp_path)
    hosts = docker_hosts(2, config=balanced_stack(app, 2, strategy="blue_green"))
    converged(hosts)
    url = f"http://127.0.0.1:{hosts.host('lb1').ports[80]}/"

    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")  # blue (app1) live, green idle
    assert code == 0, err
    r1 = report["release"]
    assert by_host(report)["app2"]["result"] == "ok" and by_host(report)["app1"]["result"] == "unchanged"
    wait_for(url, {"app2"})
    assert set(answers(url, 20)) == {("app2", r1)}, "green took the traffic"

    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")  # now blue is idle: it gets r2
    assert code == 0, err
    r2 = report["release"]
    assert by_host(report)["app1"]["result"] == "ok"
    assert set(answers(url, 20)) == {("app1", r2)}, "blue took the traffic"

    traffic = Traffic(url)
    traffic.start()
    try:
        proc = runner(hosts.stack.path, "rollback", "hello")  # switch back: green still runs r1
    finally:
        traffic.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert traffic.failures == []
    assert set(answers(url, 20)) == {("app2", r1)}
    statuses = json.loads(runner(hosts.stack.path, "history", "hello", "--format", "json").stdout)["deployments"]
    # the converge's setup deployed the app to both colours first (one row: command setup)
    assert [r["command"] for r in statuses] == ["setup", "deploy", "deploy"]
