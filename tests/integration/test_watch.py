"""runner watch on Docker hosts: auto-healing behind a real HAProxy, giving up, static instances, Ctrl-C, the lock.

The watch runs as a real `runner watch` process (stopped with SIGTERM or
SIGINT) or through the Python API; every wait is bounded by a deadline.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_balancers import WEB_RECIPE, converge, wait_for_answers

from runner import hookimpl
from runner.api import Session
from runner.errors import RunnerError
from runner.plugin.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
ONLINE_RECIPE = ('file("/tmp/online", content=",".join(sorted(i.name for i in instances '
                 'if i.status == "online")) + "\\n")\n')


def books(root: Path) -> Path:
    for name, recipes in (("web", {"default": WEB_RECIPE}), ("seen", {"default": ONLINE_RECIPE})):
        (root / name / "recipes").mkdir(parents=True)
        for recipe, text in recipes.items():
            (root / name / "recipes" / f"{recipe}.py").write_text(text)
        (root / name / "metadata.yml").write_text(f"name: {name}\nversion: 0.1.0\n")
    return root


def events(stack_file: Path) -> list[dict]:
    log = stack_file.parent / ".runner" / "events.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def wait_for(what: str, check, timeout: float, watch: subprocess.Popen | None = None):
    """``check()`` until it returns something true (bounded); fails with ``what`` and the watch's output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if watch is not None and watch.poll() is not None:
            break
        time.sleep(0.5)
    raise AssertionError(f"no {what} within {timeout:g} s")


def start_watch(stack_file: Path, out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runner", "watch", "-f", str(stack_file), *args],
                            stdout=open(out, "w"), stderr=subprocess.STDOUT, text=True)


def stop_watch(watch: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    if watch.poll() is None:
        watch.send_signal(sig)
        try:
            return watch.wait(timeout=120)
        except subprocess.TimeoutExpired:
            watch.kill()
            watch.wait(timeout=30)
            raise AssertionError("runner watch did not stop within 120 s of the signal") from None
    return watch.returncode


def first_pass_done(stack_file: Path, watch: subprocess.Popen, since: float) -> bool:
    """The watch holds the stack's lock and has saved a pass since ``since`` (epoch seconds)."""
    state_dir = stack_file.parent / ".runner"
    try:
        holder = (state_dir / "watch.pid").read_text().strip()
        saved = (state_dir / "watch.json").stat().st_mtime
    except OSError:
        return False
    return holder == str(watch.pid) and saved >= since


@pytest.fixture(scope="module")
def healing_stack(docker_hosts_module, tmp_path_factory):
    """web-a, web-b (layer app, auto_healing after 4 s) behind lb1's HAProxy; converged."""
    config = {
        "stack": {"cookbooks": [{"path": str(books(tmp_path_factory.mktemp("books")))},
                                {"path": str(ROOT / "cookbooks")}],
                  "custom_json": {"haproxy": {"backend_layer": "app", "backend_port": 8080}}},
        "layers": {"app": {"recipes": {"setup": ["web"]}, "auto_healing": {"after": "4s"}},
                   "lb": {"recipes": {"setup": ["haproxy"], "configure": ["haproxy::configure"]}}},
        "instances": {"web-a": {"layers": ["app"]}, "web-b": {"layers": ["app"]},
                      "lb1": {"layers": ["lb"], "ports": [80]}},
    }
    hosts = docker_hosts_module(names=["web-a", "web-b", "lb1"], layers=("app", "lb"), config=config)
    converge(hosts.stack.path)
    return hosts


def backends(hosts) -> str:
    return hosts.exec("lb1", "grep", "server web-", "/etc/haproxy/haproxy.cfg", check=False).stdout


def ip_of(hosts, name: str) -> str:
    (state,) = hosts.provider.status([name])
    assert state.host is not None and state.host.private_address
    return state.host.private_address


def test_a_killed_container_is_healed_and_the_balancer_follows(healing_stack, tmp_path) -> None:
    hosts, stack_file = healing_stack, healing_stack.stack.path
    assert f"server web-a {ip_of(hosts, 'web-a')}:8080" in backends(hosts)
    since = time.time()
    watch = start_watch(stack_file, tmp_path / "watch.out", "--interval", "2s", "--for", "600s")
    try:
        wait_for("first pass", lambda: first_pass_done(stack_file, watch, since), 120, watch)
        before = len(events(stack_file))
        subprocess.run(["docker", "kill", hosts.container("web-a")], check=True, capture_output=True, timeout=60)

        def healed():
            new = events(stack_file)[before:]
            heals = [i for i, e in enumerate(new) if e["instance"] == "web-a" and e["action"] == "heal"
                     and e["to_status"] == "online"]
            return new if heals and any(e["action"] == "converge" for e in new[heals[0]:]) else None
        story = wait_for("heal of web-a and a converge after it", healed, 240, watch)
    finally:
        code = stop_watch(watch)
    output = (tmp_path / "watch.out").read_text()
    assert code == 0, output
    assert re.search(r"runner watch: (stopped|interrupted) after \d+ passes, \d+ events", output), output
    mine = [(e["instance"], e["action"], e["from_status"], e["to_status"]) for e in story]
    went = next(e for e in story if e["instance"] == "web-a")  # docker may still say running for a moment
    assert (went["action"], went["from_status"]) == ("observed", "online") and went["to_status"] in (
        "stopped", "connection_lost"), mine
    left = [e for e in story if e["action"] == "configure"]
    assert left and "web-a left" in left[0]["why"] and "web-b" in left[0]["why"] and "lb1" in left[0]["why"]
    heal = next(e for e in story if e["action"] == "heal")
    assert heal["from_status"] == "stopped" and "auto-healing: stopped for" in heal["why"]
    assert "attempt 1 of 3" in heal["why"] and "(after 4s)" in heal["why"]
    assert story.index(went) < story.index(heal) < story.index(next(e for e in story if e["action"] == "converge"))
    # the balancer has web-a again, at the address it has now; the web server answers on it
    assert f"server web-a {ip_of(hosts, 'web-a')}:8080" in backends(hosts)
    port = hosts.host("lb1").ports[80]
    assert wait_for_answers(port, {"web-a", "web-b"}) == {"web-a", "web-b"}
    # `runner events` tells the same story, also as JSON lines
    listed = subprocess.run([sys.executable, "-m", "runner", "events", "-f", str(stack_file), "--format", "json"],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0
    assert [json.loads(line) for line in listed.stdout.splitlines()][-len(story):] == story
    text = subprocess.run([sys.executable, "-m", "runner", "events", "-f", str(stack_file),
                           "--instance", "web-a"], capture_output=True, text=True, timeout=60).stdout
    assert "web-a heal: stopped -> online: auto-healing" in text and "web-b" not in text.split("web-a heal")[0]


def test_ctrl_c_mid_pass_leaves_nothing_half_written_and_the_next_watch_continues(healing_stack, tmp_path):
    hosts, stack_file = healing_stack, healing_stack.stack.path
    since = time.time()
    watch = start_watch(stack_file, tmp_path / "watch.out", "--interval", "1s", "--for", "600s")
    try:
        wait_for("first pass", lambda: first_pass_done(stack_file, watch, since), 120, watch)
        before = len(events(stack_file))
        # a second watch of the same stack is refused, naming the first one's pid
        second = subprocess.run([sys.executable, "-m", "runner", "watch", "--once", "-f", str(stack_file)],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and f"pid {watch.pid}" in second.stderr, second.stderr
        subprocess.run(["docker", "kill", hosts.container("web-b")], check=True, capture_output=True, timeout=60)
        wait_for("a heal of web-b", lambda: any(e["action"] == "heal" and e["instance"] == "web-b"
                                                for e in events(stack_file)[before:]), 240, watch)
    finally:
        code = stop_watch(watch, signal.SIGINT)  # in the converge after the heal, or just after it
    assert code in (0, 130), (tmp_path / "watch.out").read_text()
    # every file of the state dir is whole
    state_dir = stack_file.parent / ".runner"
    json.loads((state_dir / "watch.json").read_text())
    json.loads((state_dir / "instances.json").read_text()) if (state_dir / "instances.json").exists() else None
    assert all(json.loads(line) for line in (state_dir / "events.jsonl").read_text().splitlines())
    assert not list(state_dir.glob(".*.tmp"))
    # the next watch takes over: web-b is set up, configured and in the balancer again
    again = subprocess.run([sys.executable, "-m", "runner", "watch", "--once", "-f", str(stack_file),
                            "--format", "json"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    converge(stack_file)  # and a plain converge finds it all in order
    assert f"server web-b {ip_of(hosts, 'web-b')}:8080" in backends(hosts)
    assert wait_for_answers(hosts.host("lb1").ports[80], {"web-a", "web-b"}) == {"web-a", "web-b"}
    status = subprocess.run([sys.executable, "-m", "runner", "status", "-f", str(stack_file), "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    assert {i["instance"]: i["status"] for i in json.loads(status.stdout)["instances"]} == {
        "web-a": "online", "web-b": "online", "lb1": "online"}


class Notifier:
    """A plugin implementing runner_instance_changed; stops the watch when it gives up."""

    def __init__(self, stop: threading.Event):
        self.changes: list = []
        self.stop = stop

    @hookimpl
    def runner_instance_changed(self, change) -> None:
        self.changes.append(change)
        if change.action == "give_up":
            self.stop.set()


def test_a_heal_that_always_fails_ends_in_start_failed_and_a_stop_by_hand_stays(docker_hosts, tmp_path) -> None:
    hosts = docker_hosts(names=["app1", "app2"], config={"layers": {"app": {"auto_healing": {"after": 0}}}})
    registry = Registry.load()
    docker = registry.providers["docker"]

    class NoHeal(docker):  # heals nothing: every attempt fails as a cloud out of capacity would
        def heal(self, names, **kwargs):
            raise RunnerError(f"{', '.join(names)}: no capacity to start it again")

    registry.providers["docker"] = NoHeal
    stop = threading.Event()
    notifier = Notifier(stop)
    registry.pm.register(notifier, name="test-notifier")
    session = Session.open(hosts.stack.path, registry=registry)
    session.instances_stop(["app2"])  # stopped by hand: wanted stopped, never healed
    subprocess.run(["docker", "kill", hosts.container("app1")], check=True, capture_output=True, timeout=60)
    report = session.watch(interval=0.5, duration=120, stop=stop)
    kinds = [(c.instance, c.action) for c in notifier.changes]
    assert kinds == [("app1", "heal")] * 3 + [("app1", "give_up")], kinds
    assert all("no capacity" in c.why for c in notifier.changes[:3])
    assert notifier.changes[-1].to_status == "start_failed" and "3 heal attempts" in notifier.changes[-1].why
    assert report.changes == notifier.changes and report.ok
    # start_failed is shown by list and status, left alone by the next watch, cleared by a start by hand
    rows = {r.instance: r for r in session.instances_list().instances}
    assert rows["app1"].status == "start_failed" and "no capacity" in rows["app1"].reason
    assert rows["app2"].status == "stopped"
    assert {i.instance: i.status for i in session.status().instances}["app1"] == "start_failed"
    assert session.watch(once=True).changes == []
    registry.providers["docker"] = docker
    session.instances_start(["app1"])
    assert {r.instance: r.status for r in session.instances_list().instances} == {"app1": "online",
                                                                                   "app2": "stopped"}


def test_a_static_instance_is_never_restarted_only_lost_and_back(docker_hosts, tmp_path) -> None:
    hosts = docker_hosts(names=["web-a", "web-b"],
                         config={"stack": {"cookbooks": [{"path": str(books(tmp_path / "books"))}]}})
    docker_state = hosts.stack.state_dir
    static = {
        "stack": {"name": hosts.stack.name + "-static", "provider": "static",
                  "cookbooks": [{"path": str(tmp_path / "books")}],
                  "ssh": {"key": str(docker_state / "id_ed25519"), "known_hosts": str(docker_state / "known_hosts"),
                          "connect_timeout": 3, "command_timeout": 600}},
        "layers": {"app": {"recipes": {"configure": ["seen"]}, "auto_healing": {"after": 0}}},
        "instances": {n: {"layers": ["app"], "address": "127.0.0.1", "port": hosts.host(n).port}
                      for n in ("web-a", "web-b")},
    }
    stack_file = tmp_path / "static" / "stack.yml"
    stack_file.parent.mkdir()
    stack_file.write_text(json.dumps(static))
    converge(stack_file)
    assert hosts.exec("web-a", "cat", "/tmp/online").stdout.strip() == "web-a,web-b"
    since = time.time()
    watch = start_watch(stack_file, tmp_path / "watch.out", "--interval", "1s", "--for", "600s")
    try:
        wait_for("first pass", lambda: first_pass_done(stack_file, watch, since), 120, watch)
        subprocess.run(["docker", "pause", hosts.container("web-b")], check=True, capture_output=True, timeout=60)
        wait_for("web-b lost", lambda: any(e["instance"] == "web-b" and e["to_status"] == "connection_lost"
                                           for e in events(stack_file)), 120, watch)
        wait_for("web-a configured without web-b",
                 lambda: hosts.exec("web-a", "cat", "/tmp/online").stdout.strip() == "web-a", 120, watch)
        subprocess.run(["docker", "unpause", hosts.container("web-b")], check=True, capture_output=True, timeout=60)
        wait_for("web-b back in web-a's configure",
                 lambda: hosts.exec("web-a", "cat", "/tmp/online").stdout.strip() == "web-a,web-b", 120, watch)
    finally:
        subprocess.run(["docker", "unpause", hosts.container("web-b")], capture_output=True, timeout=60)
        code = stop_watch(watch)
    assert code == 0, (tmp_path / "watch.out").read_text()
    story = events(stack_file)
    assert not [e for e in story if e["action"] in ("heal", "give_up")], story
    configures = [e["why"] for e in story if e["action"] == "configure"]
    assert any("web-b left" in why for why in configures) and any("web-b came back" in why for why in configures)
    assert ("web-b", "connection_lost", "online") in [(e["instance"], e["from_status"], e["to_status"])
                                                      for e in story]
