"""`--executor dask://HOST:PORT` (the runner-dask plugin): a real scheduler and two real workers on 127.0.0.1,
converging real Docker hosts through the command line."""

from __future__ import annotations

import json
import re
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
        self.address = ""

    def _spawn(self, *args: str, log: str) -> subprocess.Popen:
        out = open(self.directory / log, "w")  # noqa: SIM115 (closed with the process's end)
        proc = subprocess.Popen([*_dask_command(), *args], stdout=out, stderr=subprocess.STDOUT,
                                cwd=self.directory)
        out.close()
        self.procs.append(proc)
        return proc

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
            self._spawn("worker", self.address, "--nthreads", "2", "--no-nanny", "--no-dashboard",
                        "--name", f"w{i}", "--host", "127.0.0.1", log=f"worker{i}.log")
        with distributed.Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(WORKERS, timeout=90)

    def log(self, name: str) -> str:
        path = self.directory / name
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"

    def workers(self) -> set[str]:
        with distributed.Client(self.address, timeout=30, set_as_default=False) as client:
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


def test_an_unreachable_scheduler_is_a_usage_error(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path, "n", RECIPE, templates=TEMPLATES)
    hosts = docker_hosts(1, config=stack_config(books, ["n"]))
    url = f"dask://127.0.0.1:{_closed_port()}"
    proc = runner(hosts.stack.path, "converge", "--executor", url, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot reach the Dask scheduler" in proc.stderr and url in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert hosts.exec("app1", "test", "-e", "/opt/dask", check=False).returncode == 1  # nothing touched
