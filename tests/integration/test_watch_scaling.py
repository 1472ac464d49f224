"""`runner watch` starting and stopping time-based and load-based instances on real Docker hosts.

Through the real command line: the watch runs as `runner watch --once` or in
the background, and what it decided is read back with `runner events`, on the
hosts (docker exec, docker cp) and from the provider.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from test_balancers import ROOT, WEB_RECIPE, wait_for_answers
from test_converge import runner, write_cookbook
from test_instance_states import WAITING_SETUP, listed

SET_UP = "/var/tmp/set-up"  # written by setup: the instance's name
ONLINE = "/var/tmp/online"  # written by configure: the online instances, in stack order
SHUT_DOWN = "/var/tmp/shut-down"  # written by shutdown
MARKS = {
    "setup": f'file("{SET_UP}", content=instance.name + "\\n")\n',
    "configure": f'file("{ONLINE}", content=" ".join(i.name for i in instances if i.status == "online") + "\\n")\n',
    "shutdown": f'file("{SHUT_DOWN}", content=instance.name + "\\n")\n',
}
MARK_RECIPES = {event: [f"marks::{event}"] for event in MARKS}


def ok(stack_file: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = runner(stack_file, *args, timeout=timeout)
    assert proc.returncode == 0, f"runner {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def events(stack_file: Path) -> list[dict]:
    """The events log, through `runner events --format json`."""
    return [json.loads(line) for line in ok(stack_file, "events", "--format", "json", timeout=120).stdout.splitlines()]


def provider_status(hosts, name: str) -> str:
    return next(s.status for s in hosts.status() if s.name == name)


def read_stopped(hosts, name: str, path: str, tmp_path: Path) -> str:
    """A file of a stopped container (docker exec cannot reach it; docker cp can)."""
    out = tmp_path / f"{name}-{Path(path).name}"
    proc = subprocess.run(["docker", "cp", f"{hosts.container(name)}:{path}", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"docker cp {name}:{path}: {proc.stderr}"
    return out.read_text()


def rewrite(stack_file: Path, change: Callable[[dict], None]) -> None:
    """Edit stack.yml (the fixture writes it as JSON, which is YAML)."""
    document = json.loads(stack_file.read_text())
    change(document)
    stack_file.write_text(json.dumps(document, indent=2) + "\n")


def test_a_schedule_starts_an_instance_in_its_hours_and_stops_it_outside_them(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path / "books", "marks", MARKS)
    config = {"stack": {"cookbooks": [{"path": str(books)}]},
              "layers": {"app": {"recipes": MARK_RECIPES}},
              "instances": {"app2": {"schedule": {"Daily": "on"}}}}
    hosts = docker_hosts(names=["app1", "app2"], config=config)
    stack_file = hosts.stack.path
    ok(stack_file, "instances", "destroy", "--instance", "app2", "--no-lifecycle")
    ok(stack_file, "converge", "--instance", "app1")  # a converge of all fails on a missing instance
    assert hosts.exec("app1", "cat", ONLINE).stdout == "app1\n"

    # on every day, all day: the watch creates app2, sets it up and configures both
    ok(stack_file, "watch", "--once")
    assert provider_status(hosts, "app2") == "online"
    assert hosts.exec("app2", "cat", SET_UP).stdout == "app2\n"
    assert hosts.exec("app1", "cat", ONLINE).stdout == "app1 app2\n"
    assert hosts.exec("app2", "cat", ONLINE).stdout == "app1 app2\n"
    first = events(stack_file)
    assert [(e["instance"], e["action"]) for e in first] == [("app2", "start"), ("*", "converge")], first
    assert first[0]["to_status"] == "online"
    assert first[0]["why"].startswith("schedule: ") and first[0]["why"].endswith(" 00:00-24:00 UTC is on")

    # an hour twelve hours away: off now (and through the test), so the watch stops app2
    off_hour = (dt.datetime.now(dt.UTC).hour + 12) % 24
    rewrite(stack_file, lambda d: d["instances"]["app2"].update(schedule={"Daily": str(off_hour)}))
    ok(stack_file, "watch", "--once")
    assert provider_status(hosts, "app2") == "stopped"
    assert read_stopped(hosts, "app2", SHUT_DOWN, tmp_path) == "app2\n"  # its shutdown recipe ran before the stop
    assert hosts.exec("app1", "cat", ONLINE).stdout == "app1\n"
    second = events(stack_file)[len(first):]
    assert [(e["instance"], e["action"]) for e in second] == [("app2", "stop"), ("*", "configure")], second
    assert second[0]["to_status"] == "stopped"
    assert second[0]["why"].startswith("schedule: ") and second[0]["why"].endswith(" UTC is off")

    # stopped outside its hours, as it should be: nothing to do
    ok(stack_file, "watch", "--once")
    assert provider_status(hosts, "app2") == "stopped"
    assert len(events(stack_file)) == len(first) + len(second)
    # a plain converge (and deploy) leaves a time-based instance at rest alone: no failure for it
    report = json.loads(ok(stack_file, "converge", "--format", "json").stdout)
    assert [h["host"] for h in report["hosts"]] == ["app1"], report

    # "start all" starts it by hand; the next pass stops it again, outside its hours
    ok(stack_file, "instances", "start")
    assert hosts.exec("app1", "cat", ONLINE).stdout == "app1 app2\n"
    ok(stack_file, "watch", "--once")
    assert provider_status(hosts, "app2") == "stopped"
    third = events(stack_file)[len(first) + len(second):]
    assert [(e["instance"], e["action"], e["from_status"]) for e in third] == [
        ("app2", "observed", "stopped"), ("app2", "stop", "online"), ("*", "configure", "")], third
    assert third[1]["why"] == second[0]["why"]


def wait_for(what: str, found: Callable[[], bool], watch: subprocess.Popen, log: Path,
             deadline: float = 300.0, pause: float = 2.0) -> None:
    """Ask ``found`` until it is true (bounded: ``deadline`` seconds); the watch must keep running meanwhile."""
    ends = time.monotonic() + deadline
    while not found():
        assert watch.poll() is None, f"runner watch exited {watch.returncode} before {what}:\n{log.read_text()}"
        assert time.monotonic() < ends, f"no {what} within {deadline:g} s:\n{log.read_text()}"
        time.sleep(pause)


def after(entries: list[dict], instance: str, action: str, start: int = 0) -> int | None:
    """The index of the first event of ``instance`` and ``action`` from ``start`` on, or None."""
    return next((i for i in range(start, len(entries))
                 if entries[i]["instance"] == instance and entries[i]["action"] == action), None)


def test_load_starts_a_load_based_instance_that_the_balancer_gets_and_idleness_stops_it(docker_hosts,
                                                                                        tmp_path) -> None:
    """Load on app1 starts app2 (scaling: load), HAProxy on lb1 balances to both; idle again, app2 is stopped.

    A container's /proc/stat is the machine's, so the load is the machine's: two ``yes``
    loops keep both cores of a 2-core machine busy (~100 %) whatever else runs on it, above
    ``up.cpu`` 90. ``down.cpu`` 75 leaves room for other work on a shared CI machine (other
    tests, this test's own converges) once the loops are killed; the wait times are 0 so one
    pass over (or under) a threshold is enough, and no assertion depends on how long anything took.
    """
    books = tmp_path / "books"
    write_cookbook(books, "web", {"default": WEB_RECIPE})
    load_based = {"up": {"cpu": 90, "memory": -1, "load": -1, "thresholds_wait_time": 0, "ignore_metrics_time": "4s"},
                  "down": {"cpu": 75, "memory": -1, "load": -1, "thresholds_wait_time": 0, "ignore_metrics_time": 0}}
    config = {
        "stack": {"cookbooks": [{"path": str(books)}, {"path": str(ROOT / "cookbooks")}],
                  "custom_json": {"haproxy": {"backend_layer": "app", "backend_port": 8080}}},
        "layers": {"app": {"recipes": {"setup": ["web"]}, "load_based": load_based},
                   "lb": {"recipes": {"setup": ["haproxy"], "configure": ["haproxy::configure"]}}},
        "instances": {"app1": {"layers": ["app"]}, "app2": {"layers": ["app"], "scaling": "load"},
                      "lb1": {"layers": ["lb"], "ports": [80]}},
    }
    hosts = docker_hosts(names=["app1", "app2", "lb1"], layers=("app", "lb"), config=config)
    stack_file = hosts.stack.path
    ok(stack_file, "instances", "stop", "--instance", "app2", "--no-lifecycle")
    ok(stack_file, "converge", "--instance", "app1", "--instance", "lb1", timeout=900)

    def haproxy_servers() -> list[str]:
        cfg = hosts.exec("lb1", "cat", "/etc/haproxy/haproxy.cfg").stdout
        return [line.split()[1] for line in cfg.splitlines() if line.strip().startswith("server ")]

    assert haproxy_servers() == ["app1"]
    port = hosts.host("lb1").ports[80]
    load = ["docker", "exec", hosts.container("app1")]
    log, errors = tmp_path / "watch.out", tmp_path / "watch.err"
    with log.open("w") as out, errors.open("w") as err:
        watch = subprocess.Popen([sys.executable, "-m", "runner", "watch", "--interval", "2s", "--for", "600s",
                                  "-f", str(stack_file)], stdout=out, stderr=err)
    try:
        subprocess.run([*load[:2], "-d", *load[2:], "timeout", "300", "sh", "-c",
                        "yes >/dev/null & yes >/dev/null & wait"], check=True, timeout=60)
        seen: list[dict] = []

        def started_and_converged() -> bool:
            seen[:] = events(stack_file)
            start = after(seen, "app2", "start")
            return start is not None and after(seen, "*", "converge", start) is not None

        wait_for("start of app2 and a converge", started_and_converged, watch, log)
        start = seen[after(seen, "app2", "start")]
        assert start["to_status"] == "online" and start["why"].startswith("load: layer app average cpu "), start
        assert haproxy_servers() == ["app1", "app2"]
        assert wait_for_answers(port, {"app1", "app2"}) == {"app1", "app2"}

        subprocess.run([*load, "pkill", "yes"], timeout=60)
        began = len(seen)

        def stopped_and_configured() -> bool:
            seen[:] = events(stack_file)
            stop = after(seen, "app2", "stop", began)
            return stop is not None and after(seen, "*", "configure", stop) is not None

        wait_for("stop of app2 and a configure", stopped_and_configured, watch, log)
        stop = seen[after(seen, "app2", "stop", began)]
        assert stop["to_status"] == "stopped" and "cpu" in stop["why"] and " < 75%" in stop["why"], stop
        assert provider_status(hosts, "app2") == "stopped"
        assert haproxy_servers() == ["app1"]
        assert wait_for_answers(port, {"app1"}) == {"app1"}

        watch.send_signal(signal.SIGTERM)
        assert watch.wait(timeout=120) == 0, log.read_text() + errors.read_text()
        summary = errors.read_text().splitlines()[-1]  # after the runs' progress lines
        assert re.match(r"runner watch: (stopped|interrupted) after \d+ passes, 4 events$", summary), summary
    finally:
        subprocess.run([*load, "pkill", "yes"], capture_output=True, timeout=60)
        if watch.poll() is None:
            watch.kill()
            watch.wait(timeout=60)


def test_a_watch_stopped_during_its_converge_exits_cleanly_and_the_next_watch_finishes_the_setup(docker_hosts,
                                                                                                 tmp_path) -> None:
    """SIGTERM while the watch sets up the instance it started: a clean stop (exit 0, the summary says
    interrupted, the lock is released); the next pass logs the half-set-up instance as setup_failed and,
    since the watch had brought it up, sets it up (the intent was saved before the provider was asked)."""
    books = write_cookbook(tmp_path / "books", "marks", {**MARKS, "setup": WAITING_SETUP})
    config = {"stack": {"cookbooks": [{"path": str(books)}]},
              "layers": {"app": {"recipes": MARK_RECIPES}},
              "instances": {"app2": {"schedule": {"Daily": "on"}}}}
    hosts = docker_hosts(names=["app1", "app2"], config=config)
    stack_file = hosts.stack.path
    ok(stack_file, "instances", "stop", "--instance", "app2", "--no-lifecycle")
    hosts.exec("app1", "touch", "/tmp/go")
    ok(stack_file, "converge", "--instance", "app1")
    log, errors = tmp_path / "watch.out", tmp_path / "watch.err"
    with log.open("w") as out, errors.open("w") as err:
        watch = subprocess.Popen([sys.executable, "-m", "runner", "watch", "--interval", "2s", "--for", "300s",
                                  "-f", str(stack_file)], stdout=out, stderr=err)
    try:
        wait_for("app2's setup under way", lambda: listed(stack_file)["app2"]["status"] == "running_setup",
                 watch, errors, deadline=120, pause=0.5)
        watch.send_signal(signal.SIGTERM)
        assert watch.wait(timeout=120) == 0, log.read_text() + errors.read_text()
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait(timeout=60)
    summary = errors.read_text().splitlines()[-1]
    assert summary.startswith("runner watch: interrupted after "), errors.read_text()
    assert [(e["instance"], e["action"]) for e in events(stack_file)] == [("app2", "start")]

    hosts.exec("app2", "touch", "/tmp/go")  # the setup can finish now
    ok(stack_file, "watch", "--once")  # the lock was released
    assert listed(stack_file)["app2"]["status"] == "online"
    seen = events(stack_file)[1:]
    assert [(e["instance"], e["action"], e["from_status"], e["to_status"]) for e in seen] == [
        ("app2", "observed", "online", "setup_failed"), ("*", "converge", "", "")], seen
    assert seen[1]["why"].startswith("setup on app2, then configure on app1, app2"), seen
    ok(stack_file, "watch", "--once")  # done with it: nothing more to do
    assert len(events(stack_file)) == 3
