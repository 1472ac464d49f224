"""`runner instances` and `runner plugins` through the real command line, on Docker hosts."""

from __future__ import annotations

import json
import subprocess
import sys


def _runner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *args], capture_output=True, text=True, timeout=180)


def test_docker_provider_comes_from_its_own_distribution() -> None:
    proc = _runner("plugins", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    docker = next(p for p in json.loads(proc.stdout) if p["name"] == "docker")
    assert docker["distribution"] == "runner-docker" and not docker["builtin"]
    assert docker["module"] == "runner_docker.plugin"
    assert docker["providers"] == ["docker"] and "docker-image" in docker["commands"]
    assert "runner-docker" in _runner("plugins").stdout


def test_instances_list_stop_start(docker_hosts) -> None:
    hosts = docker_hosts(2, layers=("web",))
    stack_file = str(hosts.stack.path)

    listed = _runner("instances", "list", "-f", stack_file, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["instance"]: r for r in json.loads(listed.stdout)["instances"]}
    assert set(rows) == {"web1", "web2"}
    for name, row in rows.items():
        assert row["status"] == "online" and row["address"] == "127.0.0.1"
        assert row["hostname"] == hosts.stack.instances[name].hostname and row["layers"] == ["web"]

    stopped = _runner("instances", "stop", "-f", stack_file, "--instance", "web2", "--format", "json")
    assert stopped.returncode == 0, stopped.stderr
    assert [(r["instance"], r["status"]) for r in json.loads(stopped.stdout)["instances"]] == [("web2", "stopped")]

    table = _runner("instances", "-f", stack_file).stdout
    assert "web1" in table and "online" in table and "stopped" in table

    started = _runner("instances", "start", "-f", stack_file, "--layer", "web", "--format", "json")
    assert started.returncode == 0, started.stderr
    assert {r["status"] for r in json.loads(started.stdout)["instances"]} == {"online"}


def test_unknown_instance_is_a_clear_error(docker_hosts) -> None:
    hosts = docker_hosts(1)
    proc = _runner("instances", "stop", "-f", str(hosts.stack.path), "--instance", "app9")
    assert proc.returncode == 2
    assert "no instance 'app9'" in proc.stderr and "did you mean 'app1'?" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_start_and_stop_run_the_lifecycle_events(docker_hosts, tmp_path) -> None:
    """stop: the stopping instance's shutdown recipes, then configure on the others; start: converge."""
    book = tmp_path / "books" / "topo"
    (book / "recipes").mkdir(parents=True)
    (book / "metadata.yml").write_text("name: topo\nversion: 0.1.0\n")
    (book / "recipes" / "configure.py").write_text(
        'online = sorted(i.name for i in instances if i.status == "online")\n'
        'file("/etc/topology", content=" ".join(online) + "\\n")\n')
    (book / "recipes" / "shutdown.py").write_text('file("/var/tmp/shutdown-ran", content=instance.name + "\\n")\n')
    config = {"stack": {"cookbooks": [{"path": str(tmp_path / "books")}]},
              "layers": {"web": {"recipes": {"configure": ["topo::configure"], "shutdown": ["topo::shutdown"]}}}}
    hosts = docker_hosts(2, layers=("web",), config=config)
    stack_file = str(hosts.stack.path)

    def cat(name: str, path: str) -> str:
        return hosts.exec(name, "sh", "-c", f"cat {path} 2>/dev/null || echo missing").stdout.strip()

    started = _runner("instances", "start", "-f", stack_file, "--format", "json")
    assert started.returncode == 0, started.stderr
    started_report = json.loads(started.stdout)  # stdout keeps the table (JSON here), with the converge it ran
    assert started_report["instances"][0]["instance"] == "web1"
    assert [e["command"] for e in started_report["events"]] == ["converge"]
    assert "converge of stack" in started.stderr
    assert cat("web1", "/etc/topology") == cat("web2", "/etc/topology") == "web1 web2"

    stopped = _runner("instances", "stop", "-f", stack_file, "--instance", "web2")
    assert stopped.returncode == 0, stopped.stderr
    assert "shutdown of stack" in stopped.stderr and "configure of stack" in stopped.stderr
    assert cat("web1", "/etc/topology") == "web1", "the remaining instance was configured without web2"
    assert cat("web1", "/var/tmp/shutdown-ran") == "missing"

    started = _runner("instances", "start", "-f", stack_file, "--instance", "web2")
    assert started.returncode == 0, started.stderr
    assert cat("web2", "/var/tmp/shutdown-ran") == "web2", "web2 ran its shutdown recipe before it stopped"
    assert cat("web1", "/etc/topology") == "web1 web2"

    quiet = _runner("instances", "stop", "-f", stack_file, "--instance", "web2", "--no-lifecycle")
    assert quiet.returncode == 0, quiet.stderr
    assert "configure" not in quiet.stderr and cat("web1", "/etc/topology") == "web1 web2"
