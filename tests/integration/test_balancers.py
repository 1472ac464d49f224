"""The haproxy balancer against real Docker hosts: HAProxy from the hosts' apt, two tiny HTTP servers.

The stack is converged through the real command line; traffic goes from the
test process to the lb instance's port published on 127.0.0.1, with urllib.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from runner.balancers.api import DRAIN, MAINT, READY, BalancerError
from runner.deploy.balancer import open_balancer
from runner.plugin.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
APP_SERVERS = ("web-a", "web-b")  # instance names; their hostnames (app1, app2) differ on purpose

WEB_RECIPE = """\
directory("/srv/web", mode="0755")
file("/srv/web/index.html", content=instance.name + "\\n", mode="0644")
file("/srv/web/health", content="ok\\n", mode="0644")
file("/etc/systemd/system/web.service", mode="0644", content=(
    "[Unit]\\nDescription=tiny web server\\n[Service]\\n"
    "ExecStart=/usr/bin/python3 -m http.server 8080 --directory /srv/web\\n"))
service("web", action=["enable", "start"])
"""


def converge(stack_file: Path, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "runner", "converge", "--format", "json", "-f", str(stack_file),
                           *args], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"converge failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout)


def fetch(port: int) -> str:
    """One request through the balancer: the answering instance's name, or the error."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            return response.read().decode().strip()
    except (urllib.error.URLError, OSError) as exc:
        return f"error: {exc}"


def answers(port: int, count: int = 20) -> list[str]:
    return [fetch(port) for _ in range(count)]


def wait_for_answers(port: int, wanted: set[str], attempts: int = 60) -> set[str]:
    """Ask until the set of answering instances is ``wanted`` (bounded; health checks need a few seconds)."""
    seen: set[str] = set()
    for _ in range(attempts):
        seen = set(answers(port, 6))
        if seen == wanted:
            break
        time.sleep(0.5)
    return seen


def haproxy_pid(hosts) -> str:
    return hosts.exec("lb1", "cat", "/run/haproxy.pid").stdout.strip()


@pytest.fixture(scope="module")
def lb_stack(docker_hosts_module, tmp_path_factory):
    books = tmp_path_factory.mktemp("books")
    (books / "web" / "recipes").mkdir(parents=True)
    (books / "web" / "recipes" / "default.py").write_text(WEB_RECIPE)
    (books / "web" / "metadata.yml").write_text("name: web\nversion: 0.1.0\n")
    config = {
        "stack": {"cookbooks": [{"path": str(books)}, {"path": str(ROOT / "cookbooks")}],
                  "custom_json": {"haproxy": {"backend_layer": "app", "backend_port": 8080}}},
        "layers": {"app": {"recipes": {"setup": ["web"]}},
                   "lb": {"recipes": {"setup": ["haproxy"], "configure": ["haproxy::configure"]}}},
        "instances": {"web-a": {"layers": ["app"]}, "web-b": {"layers": ["app"]},
                      "lb1": {"layers": ["lb"], "ports": [80]}},
        # a real source: setup ends with a deploy of the app (its hosts' own server is the web recipe's)
        "apps": {"hello": {"layers": ["app"], "source": {"type": "directory", "path": str(ROOT / "apps" / "hello")}}},
    }
    hosts = docker_hosts_module(names=[*APP_SERVERS, "lb1"], layers=("app", "lb"), config=config)
    converge(hosts.stack.path)
    return hosts


@pytest.fixture
def balancer(lb_stack):
    opened = open_balancer(lb_stack.stack, Registry.load(), "hello")
    assert opened is not None
    with opened:
        yield opened
        opened.enable(APP_SERVERS)  # leave both in rotation for the next test


def test_the_lb_port_is_published_on_loopback(lb_stack) -> None:
    host = lb_stack.host("lb1")
    assert host.address == "127.0.0.1" and set(host.ports) == {80}
    listing = subprocess.run([sys.executable, "-m", "runner", "instances", "list", "-f", str(lb_stack.stack.path)],
                             capture_output=True, text=True, timeout=60)
    assert f"80->127.0.0.1:{host.ports[80]}" in listing.stdout


def test_drain_enable_and_a_reload_that_keeps_the_drained_server_out(lb_stack, balancer) -> None:
    port = lb_stack.host("lb1").ports[80]
    assert wait_for_answers(port, set(APP_SERVERS)) == set(APP_SERVERS)
    assert balancer.states() == {"web-a": READY, "web-b": READY}
    assert {name: s.up for name, s in balancer.server_status().items()} == {"web-a": True, "web-b": True}

    balancer.drain(["web-a"], timeout=10)
    assert balancer.states()["web-a"] in (DRAIN, MAINT) and balancer.states()["web-b"] == READY
    assert set(answers(port)) == {"web-b"}

    # a configure whose config change reloads HAProxy keeps web-a out (server-state file)
    before = haproxy_pid(lb_stack)
    report = converge(lb_stack.stack.path, "--json", json.dumps({"haproxy": {"health_path": "/health?v=2"}}))
    lb = next(h for h in report["hosts"] if h["host"] == "lb1")
    changed = {r["resource"] for r in lb["resources"] if r["status"] == "changed"}
    assert "template[/etc/haproxy/haproxy.cfg]" in changed, json.dumps(lb, indent=1)
    assert haproxy_pid(lb_stack) != before  # a new HAProxy process took over
    assert "GET /health?v=2" in lb_stack.exec("lb1", "cat", "/etc/haproxy/haproxy.cfg").stdout
    assert balancer.states()["web-a"] == MAINT
    assert set(answers(port)) == {"web-b"}

    balancer.enable(["web-a"])
    assert balancer.states() == {"web-a": READY, "web-b": READY}
    assert wait_for_answers(port, set(APP_SERVERS)) == set(APP_SERVERS)


def test_a_request_to_a_server_that_went_away_is_retried_elsewhere(lb_stack, balancer) -> None:
    port = lb_stack.host("lb1").ports[80]
    assert wait_for_answers(port, set(APP_SERVERS)) == set(APP_SERVERS)
    lb_stack.exec("web-a", "sh", "-c", "kill $(cat /run/runner/web.child)")  # its supervisor restarts it later
    assert all(answer in APP_SERVERS for answer in answers(port)), "every request must be answered"


def test_the_admin_socket_is_reached_with_python3_where_socat_is_missing(lb_stack, balancer) -> None:
    lb_stack.exec("lb1", "mv", "/usr/bin/socat", "/usr/bin/socat.hidden")
    try:
        balancer.drain(["web-b"], timeout=5)
        assert balancer.states() == {"web-a": READY, "web-b": MAINT}
        balancer.enable(["web-b"])
        assert balancer.states() == {"web-a": READY, "web-b": READY}
    finally:
        lb_stack.exec("lb1", "mv", "/usr/bin/socat.hidden", "/usr/bin/socat")


def test_an_unknown_server_is_a_clear_error(balancer) -> None:
    with pytest.raises(BalancerError) as exc:
        balancer.enable(["web-z"])
    assert "lb1" in str(exc.value) and "No such server" in str(exc.value) and "app/web-z" in str(exc.value)


def test_app_without_balancer(lb_stack) -> None:
    stack = lb_stack.stack
    assert open_balancer(stack, Registry.load(), "hello") is not None
    plain = textwrap.dedent("""\
        stack: {name: x, provider: docker}
        layers: {app: {}}
        instances: {a1: {layers: [app]}}
        apps: {hello: {layers: [app], source: {type: git, url: u}}}
    """)
    path = Path(lb_stack.stack.path).parent / "plain.yml"
    path.write_text(plain)
    from runner.model.loader import load_stack

    assert open_balancer(load_stack(path), Registry.load(), "hello") is None
