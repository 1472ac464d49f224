"""Deployments behind a real HAProxy (the sample haproxy cookbook) on Docker hosts.

Requests go from the test to the lb container's port published on 127.0.0.1.
"""

from __future__ import annotations

import collections
import json
import threading
import time
import urllib.error
import urllib.request

from deploy_support import app_copy, app_stack, by_host, converged, runner, runner_json


def balanced_stack(app, app_hosts: int, **deploy) -> dict:
    config = app_stack(app, **deploy)
    config["layers"]["lb"] = {"recipes": {"setup": ["haproxy"], "configure": ["haproxy::configure"]}}
    config["instances"] = {"lb1": {"layers": ["lb"], "ports": [80]}}
    return config


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
    assert [r["command"] for r in statuses] == ["deploy", "deploy"]
