"""`--executor dask://HOST:PORT` (the runner-dask plugin): a real scheduler and two real workers on 127.0.0.1,
converging real Docker hosts through the command line."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import distributed
import pytest
from test_converge import by_host, converge_json, runner, stack_config, write_cookbook

WORKERS = 2
RECIPE = {"default": '''
    directory("/opt/dask", mode="0755")
    file("/opt/dask/host.txt", content=instance.name + "\\n", mode="0644")
    template("/opt/dask/app.conf", source="app.conf.j2", variables={"name": instance.name})
'''}
TEMPLATES = {"app.conf.j2": "name = {{ name }}\nhosts = {{ instances | length }}\n"}
MINE = ("directory[/opt/dask]", "file[/opt/dask/host.txt]", "template[/opt/dask/app.conf]")
WORKER_LINE = re.compile(r"^\[\s*[\d.]+s\] (\S+): runs on dask worker (tcp://\S+)$", re.MULTILINE)


def _dask_command() -> list[str]:
    beside = Path(sys.executable).parent / "dask"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "dask"]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


class DaskCluster:
    """A scheduler and its workers, as subprocesses on 127.0.0.1."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.procs: list[subprocess.Popen] = []
        self.workers_by_name: dict[str, subprocess.Popen] = {}
        self.address = ""

    def _spawn(self, *args: str, log: str) -> subprocess.Popen:
        # a worker that dies fails its task at once, instead of the scheduler trying it on another worker
        env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
        with open(self.directory / log, "a") as out:
            proc = subprocess.Popen([*_dask_command(), *args], stdout=out, stderr=subprocess.STDOUT,
                                    cwd=self.directory, env=env)
        self.procs.append(proc)
        return proc

    def start_worker(self, name: str) -> None:
        self.workers_by_name[name] = self._spawn(
            "worker", self.address, "--nthreads", "2", "--no-nanny", "--no-dashboard", "--name", name,
            "--host", "127.0.0.1", log=f"{name}.log")

    def client(self) -> distributed.Client:
        return distributed.Client(self.address, timeout=30, set_as_default=False)

    def wait_for_workers(self) -> None:
        with self.client() as client:
            client.wait_for_workers(WORKERS, timeout=90)

    def tasks(self, client: distributed.Client) -> dict[str, tuple[str, str | None]]:
        """Every runner task the scheduler knows: key -> (state, the name of the worker running it)."""
        def look(dask_scheduler) -> dict:
            return {str(key): (ts.state, ts.processing_on.name if ts.processing_on else None)
                    for key, ts in dask_scheduler.tasks.items() if str(key).startswith("runner-")}
        return client.run_on_scheduler(look)

    def start(self) -> None:
        info = self.directory / "scheduler.json"
        scheduler = self._spawn("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                "--scheduler-file", str(info), log="scheduler.log")
        deadline = time.monotonic() + 60
        while not info.exists() or not info.read_text().strip():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"dask scheduler did not start:\n{self.log('scheduler.log')}")
            time.sleep(0.2)
        self.address = json.loads(info.read_text())["address"]
        for i in range(1, WORKERS + 1):
            self.start_worker(f"w{i}")
        self.wait_for_workers()

    def log(self, name: str) -> str:
        path = self.directory / name
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"

    def workers(self) -> set[str]:
        with self.client() as client:
            return set(client.scheduler_info()["workers"])

    @property
    def url(self) -> str:
        return self.address.replace("tcp://", "dask://", 1)

    def stop(self) -> None:
        for proc in reversed(self.procs):  # the workers, then the scheduler
            _stop(proc)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def workers_used(stderr: str) -> dict[str, str]:
    """host -> the dask worker that ran it, from the live lines."""
    return dict(WORKER_LINE.findall(stderr))


def test_converge_runs_on_both_workers_then_changes_nothing(docker_hosts, dask_cluster, tmp_path) -> None:
    books = write_cookbook(tmp_path, "d", RECIPE, templates=TEMPLATES)
    hosts = docker_hosts(4, config=stack_config(books, ["d"]))
    code, report, err = converge_json(hosts.stack.path, "--executor", dask_cluster.url)
    assert code == 0, err
    assert report["ok"] and [h["host"] for h in report["hosts"]] == hosts.names, report
    for host in report["hosts"]:
        statuses = {r["resource"]: r["status"] for r in host["resources"]}
        assert host["ok"] and host["error"] is None and host["ran_setup"], host
        assert all(statuses[key] == "changed" for key in MINE), host
    for name in hosts.names:
        assert hosts.exec(name, "cat", "/opt/dask/host.txt").stdout == f"{name}\n"
        assert hosts.exec(name, "cat", "/opt/dask/app.conf").stdout == f"name = {name}\nhosts = 4\n"
    used = workers_used(err)
    assert set(used) == set(hosts.names), err
    assert set(used.values()) == dask_cluster.workers() and len(set(used.values())) == WORKERS, err
    assert "changed" in err and "connecting" in err  # the workers' lines, replayed here

    again_code, again, again_err = converge_json(hosts.stack.path, "--executor", dask_cluster.url)
    assert again_code == 0, again_err
    assert all(h["changed"] == 0 and h["ok"] for h in again["hosts"]), again
    assert all(h["remote_commands"] == 1 for h in again["hosts"]), again  # a no-op: one probe per host

    local_code, local, _ = converge_json(hosts.stack.path)  # the same report without the executor
    assert local_code == 0
    assert set(local) == set(again) and local["command"] == again["command"] == "converge"
    for mine, theirs in zip(again["hosts"], local["hosts"], strict=True):
        assert set(mine) == set(theirs)
        assert [(r["resource"], r["status"]) for r in mine["resources"]] == \
            [(r["resource"], r["status"]) for r in theirs["resources"]]


def test_a_host_that_cannot_be_reached_fails_alone(docker_hosts, dask_cluster, tmp_path) -> None:
    books = write_cookbook(tmp_path, "u", RECIPE, templates=TEMPLATES)
    config = stack_config(books, ["u"])
    config["stack"]["ssh"] = {"connect_timeout": 5}
    hosts = docker_hosts(3, config=config)
    # sshd on app2 moves to another port: its SSH port no longer answers, and the instance is still online
    hosts.exec("app2", "sh", "-c", "echo 'Port 2222' > /etc/ssh/sshd_config.d/zz-moved.conf && kill -HUP 1")
    time.sleep(1)
    code, report, err = converge_json(hosts.stack.path, "--executor", dask_cluster.url)
    assert code == 1, err
    result = by_host(report)
    assert not result["app2"]["ok"] and result["app2"]["error"], result["app2"]
    assert result["app2"]["cause"] not in (None, "executor"), result["app2"]  # the host's failure, from its worker
    assert result["app1"]["ok"] and result["app3"]["ok"] and result["app1"]["changed"] >= 3, report
    assert hosts.exec("app3", "cat", "/opt/dask/host.txt").stdout == "app3\n"
    text = runner(hosts.stack.path, "setup", "--executor", dask_cluster.url, "--instance", "app1")
    assert text.returncode == 0, text.stdout + text.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_scheduler_is_a_usage_error(tmp_path) -> None:
    books = write_cookbook(tmp_path, "n", RECIPE, templates=TEMPLATES)
    stack = tmp_path / "stack.yml"  # a static host that nothing may reach: the run must stop before it
    stack.write_text(json.dumps({**stack_config(books, ["n"]), "stack": {
        "name": "nosched", "provider": "static", "cookbooks": [{"path": str(books)}]},
        "instances": {"app1": {"layers": ["app"], "address": "127.0.0.1", "port": _closed_port()}}}))
    url = f"dask://127.0.0.1:{_closed_port()}"
    proc = runner(stack, "converge", "--executor", url, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot reach the Dask scheduler" in proc.stderr and url in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "app1" not in proc.stderr  # no host was tried


def until(what: str, check, timeout: float = 120.0, pause: float = 0.3):
    """Poll ``check()`` until it returns something true (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError(f"timed out waiting for {what}")


SLOW_ON_APP1 = {"default": '''
    execute("if [ -e /opt/slow ]; then sleep 90; fi; touch /opt/slept", creates="/opt/slept")
'''}


def test_a_worker_that_dies_fails_its_host_alone(docker_hosts, dask_cluster, tmp_path) -> None:
    books = write_cookbook(tmp_path, "k", SLOW_ON_APP1)
    hosts = docker_hosts(2, config=stack_config(books, ["k"], setup=[]))
    hosts.exec("app1", "touch", "/opt/slow")
    run = subprocess.Popen([sys.executable, "-m", "runner", "converge", "--format", "json", "--executor",
                            dask_cluster.url, "-f", str(hosts.stack.path)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    try:
        with dask_cluster.client() as client:
            def app1_running_app2_done() -> str | None:
                tasks = dask_cluster.tasks(client)
                app1 = [w for key, (state, w) in tasks.items() if key.endswith("-app1") and state == "processing"]
                app2_busy = any(key.endswith("-app2") and state == "processing" for key, (state, _) in tasks.items())
                slept = hosts.exec("app2", "test", "-e", "/opt/slept", check=False).returncode == 0
                return app1[0] if app1 and slept and not app2_busy else None
            killed = until("app1 running on a worker, app2 done", app1_running_app2_done)
        dask_cluster.workers_by_name[killed].kill()
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate(timeout=30)
        if killed is not None:
            dask_cluster.workers_by_name[killed].wait(timeout=30)
            dask_cluster.start_worker(killed)
            dask_cluster.wait_for_workers()
    assert run.returncode == 1, out + err
    result = by_host(json.loads(out))
    assert result["app1"]["cause"] == "executor" and "KilledWorker" in result["app1"]["error"], result["app1"]
    assert result["app2"]["ok"], result["app2"]
    assert "Traceback" not in err


SLOW_EVERYWHERE = {"default": '''
    execute("sleep 90; touch /opt/slept", creates="/opt/slept")
'''}


def test_ctrl_c_stops_the_hosts_running_on_workers(docker_hosts, dask_cluster, tmp_path) -> None:
    books = write_cookbook(tmp_path, "c", SLOW_EVERYWHERE)
    hosts = docker_hosts(2, config=stack_config(books, ["c"], setup=[]))
    run = subprocess.Popen([sys.executable, "-m", "runner", "converge", "--executor", dask_cluster.url,
                            "-f", str(hosts.stack.path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def sleeping(name: str) -> bool:
            return hosts.exec(name, "pgrep", "-f", "sleep 90", check=False).returncode == 0
        until("the apply running on both hosts", lambda: all(sleeping(n) for n in hosts.names))
        os.kill(run.pid, signal.SIGINT)
        out, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate(timeout=30)
    assert run.returncode == 130, out
    assert "interrupted" in out and "Traceback" not in out, out
    # the workers were told to stop: the hosts' connections closed, their steps ended, well before the 90 s
    until("the steps on the hosts to end", lambda: not any(sleeping(n) for n in hosts.names), timeout=45)
    for name in hosts.names:
        assert hosts.exec(name, "test", "-e", "/opt/slept", check=False).returncode == 1


def test_a_setup_that_deploys_an_app_runs_on_the_controller(docker_hosts, dask_cluster, tmp_path) -> None:
    books = write_cookbook(tmp_path, "d", RECIPE, templates=TEMPLATES)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("hello from the controller\n")
    config = {
        "stack": {"cookbooks": [{"path": str(books)}]},
        "layers": {"web": {"recipes": {"configure": ["d"]}}, "plain": {"recipes": {"configure": ["d"]}}},
        "instances": {"web1": {"layers": ["web"]}, "plain1": {"layers": ["plain"]}},
        "apps": {"site": {"layers": ["web"], "source": {"type": "directory", "path": str(site)}}},
    }
    hosts = docker_hosts(names=["web1", "plain1"], layers=("web", "plain"), config=config)
    code, report, err = converge_json(hosts.stack.path, "--executor", dask_cluster.url)
    assert code == 0, err
    assert all(h["ok"] and h["ran_setup"] for h in report["hosts"]), report
    assert "web1: runs on the controller, not on a worker: its setup deploys apps" in err, err
    assert set(workers_used(err)) == {"plain1"}, err
    assert hosts.exec("web1", "cat", "/srv/site/current/index.html").stdout == "hello from the controller\n"
    assert "deploy[site]" in {r["resource"] for r in by_host(report)["web1"]["resources"]}
