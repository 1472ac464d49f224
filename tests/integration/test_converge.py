"""`runner converge` and friends against real Docker hosts, through the real command line."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

HOSTILE = "we ird 'q' \"dq\" $(touch /tmp/pwned) `touch /tmp/pwned2`; touch /tmp/pwned3"
HOSTILE_NAME = "we ird 'q' \"dq\" $(touch pwned) `touch pwned2`; touch pwned3 & x"  # a file name: no slash
SECRET = "s3cr3t-Hunter2-value"


def write_cookbook(root: Path, name: str, recipes: dict[str, str], templates: dict[str, str] | None = None,
                   files: dict[str, str] | None = None, attributes: str = "") -> Path:
    book = root / name
    for sub, entries in (("recipes", {f"{k}.py": v for k, v in recipes.items()}), ("templates", templates or {}),
                         ("files", files or {})):
        for fname, text in entries.items():
            (book / sub).mkdir(parents=True, exist_ok=True)
            (book / sub / fname).write_text(textwrap.dedent(text))
    (book / "metadata.yml").write_text(f"name: {name}\nversion: 0.1.0\n")
    if attributes:
        (book / "attributes").mkdir(exist_ok=True)
        (book / "attributes" / "default.yml").write_text(textwrap.dedent(attributes))
    return root


def runner(stack_file: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *args, "-f", str(stack_file)],
                          capture_output=True, text=True, timeout=timeout)


def converge_json(stack_file: Path, *args: str, command: str = "converge") -> tuple[int, dict, str]:
    proc = runner(stack_file, command, "--format", "json", *args)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON report (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from None
    return proc.returncode, report, proc.stderr


def by_host(report: dict) -> dict[str, dict]:
    return {h["host"]: h for h in report["hosts"]}


def stack_config(books: Path, configure: list[str], setup: list[str] | None = None, **layer) -> dict:
    recipes = {"configure": configure}
    if setup:
        recipes["setup"] = setup
    return {"stack": {"cookbooks": [{"path": str(books)}]}, "layers": {"app": {"recipes": recipes, **layer}}}


EVERY_TYPE = {
    "default": f'''
        group("rgroup", gid=2345)
        user("ruser", uid=2345, gid=2345, home="/home/ruser", shell="/bin/sh")
        group("rmembers", members=["ruser"])
        directory("/opt/r/dir one", mode="0750", owner="ruser", group="rgroup")
        file("/opt/r/dir one/plain.txt", content={HOSTILE!r} + "\\n", mode="0640")
        file({'/opt/r/' + HOSTILE_NAME!r}, content="hostile path\\n")
        file("/opt/r/from-files.txt", source="greeting.txt")
        template("/opt/r/app.conf", source="app.conf.j2", variables={{"port": node["r"]["port"]}})
        link("/opt/r/current", to="/opt/r/dir one")
        execute("touch /opt/r/executed && echo ran >> /opt/r/exec-count", creates="/opt/r/executed")
        execute("echo guarded >> /opt/r/guarded", not_if="test -f /opt/r/guarded")
        package("tree")
        template("/etc/systemd/system/rweb.service", source="rweb.service.j2")
        service("rweb", action=["enable", "start"])
    ''',
}


@pytest.fixture(scope="module")
def every_type_hosts(docker_hosts_module, tmp_path_factory):
    books = write_cookbook(
        tmp_path_factory.mktemp("books"), "r", EVERY_TYPE,
        templates={"app.conf.j2": "port={{ port }}\nhost={{ instance.hostname }}\n",
                   "rweb.service.j2": "[Unit]\nDescription=r web\n[Service]\n"
                                      "ExecStart=/usr/bin/python3 -m http.server 8099 --bind 127.0.0.1\n"
                                      "WorkingDirectory=/opt/r\n"},
        files={"greeting.txt": "hello from files/\n"},
        attributes="r:\n  port: 8080\n")
    return docker_hosts_module(2, config=stack_config(books, ["r"]))


def test_every_type_converges_then_changes_nothing(every_type_hosts) -> None:
    hosts = every_type_hosts
    code, report, err = converge_json(hosts.stack.path)
    assert code == 0, json.dumps(report, indent=1) + err
    for host in report["hosts"]:
        assert host["ran_setup"] and host["failed"] == 0
        changed = {r["resource"] for r in host["resources"] if r["status"] == "changed"}
        assert "service[rweb]" in changed and "package[tree]" in changed and "user[ruser]" in changed

    name = hosts.names[0]
    assert hosts.exec(name, "cat", "/opt/r/dir one/plain.txt").stdout == HOSTILE + "\n"
    assert hosts.exec(name, "cat", "/opt/r/" + HOSTILE_NAME).stdout == "hostile path\n"
    assert hosts.exec(name, "cat", "/opt/r/app.conf").stdout == (
        f"port=8080\nhost={hosts.stack.instances[name].hostname}\n")
    assert hosts.exec(name, "readlink", "/opt/r/current").stdout.strip() == "/opt/r/dir one"
    assert hosts.exec(name, "stat", "-c", "%a %U %G", "/opt/r/dir one").stdout.split() == ["750", "ruser", "rgroup"]
    assert hosts.exec(name, "id", "-nG", "ruser").stdout.split()[-1] == "rmembers"
    assert hosts.exec(name, "dpkg-query", "-W", "-f", "${Status}", "tree").stdout == "install ok installed"
    for leftover in ("/tmp/pwned", "/tmp/pwned2", "/tmp/pwned3", "/pwned", "/pwned2", "/pwned3"):
        assert hosts.exec(name, "test", "-e", leftover, check=False).returncode == 1
    served = hosts.exec(name, "python3", "-c", "import urllib.request;print(urllib.request.urlopen("
                        "'http://127.0.0.1:8099/app.conf').read().decode())").stdout
    assert served.startswith("port=8080")

    # the second converge changes nothing and costs one remote command per host
    code, report, err = converge_json(hosts.stack.path)
    assert code == 0, err
    for host in report["hosts"]:
        changed = [r["resource"] for r in host["resources"] if r["status"] == "changed"]
        assert changed == [] and host["remote_commands"] == 1 and not host["ran_setup"]
    assert hosts.exec(name, "cat", "/opt/r/exec-count").stdout == "ran\n"


def test_plan_touches_nothing(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path, "p", {"default": 'file("/opt/plan-me", content="x\\n")\n'})
    hosts = docker_hosts(1, config=stack_config(books, ["p"]))
    proc = runner(hosts.stack.path, "plan")
    assert proc.returncode == 0, proc.stderr
    assert "file[/opt/plan-me]: create" in proc.stdout and "setup would run first" in proc.stdout
    name = hosts.names[0]
    assert hosts.exec(name, "test", "-e", "/opt/plan-me", check=False).returncode == 1
    assert hosts.exec(name, "sh", "-c", "ls /var/lib/runner 2>/dev/null | wc -l").stdout.strip() == "0"


def test_three_changed_templates_restart_once(docker_hosts, tmp_path) -> None:
    recipe = '''
        for n in (1, 2, 3):
            template(f"/opt/t{n}.conf", source="t.j2", variables={"v": node["t"]["v"], "n": n},
                     notifies=("run", "execute[restart]"))
        execute("restart", command="echo restart >> /opt/restarts", action="nothing")
    '''
    books = write_cookbook(tmp_path, "t", {"default": recipe}, templates={"t.j2": "{{ n }}={{ v }}\n"},
                           attributes="t:\n  v: one\n")
    hosts = docker_hosts(1, config=stack_config(books, ["t"]))
    name = hosts.names[0]
    assert converge_json(hosts.stack.path)[0] == 0
    assert hosts.exec(name, "cat", "/opt/restarts").stdout == "restart\n"
    code, report, _ = converge_json(hosts.stack.path, "--json", '{"t": {"v": "two"}}')
    assert code == 0
    assert hosts.exec(name, "cat", "/opt/restarts").stdout == "restart\nrestart\n"
    host = report["hosts"][0]
    assert sum(r["status"] == "changed" and r["resource"].startswith("template") for r in host["resources"]) == 3
    diff = next(r for r in host["resources"] if r["resource"] == "template[/opt/t1.conf]")["diff"]
    assert "-1=one" in diff and "+1=two" in diff
    assert converge_json(hosts.stack.path, "--json", '{"t": {"v": "two"}}')[1]["hosts"][0]["remote_commands"] == 1


def test_real_service_restarted_once_by_template_change(docker_hosts, tmp_path) -> None:
    recipe = '''
        template("/etc/systemd/system/echo-svc.service", source="unit.j2",
                 notifies=("restart", "service[echo-svc]"))
        for n in (1, 2):
            file(f"/opt/echo{n}.conf", content=node["e"]["v"] + "\\n", notifies=("restart", "service[echo-svc]"))
        service("echo-svc")
    '''
    unit = "[Service]\nExecStart=/bin/sh -c 'echo started >> /opt/echo-starts; exec sleep 100000'\n"
    books = write_cookbook(tmp_path, "e", {"default": recipe}, templates={"unit.j2": unit},
                           attributes="e:\n  v: one\n")
    hosts = docker_hosts(1, config=stack_config(books, ["e"]))
    name = hosts.names[0]
    assert converge_json(hosts.stack.path)[0] == 0
    starts = hosts.exec(name, "cat", "/opt/echo-starts").stdout.count("started")
    code, report, err = converge_json(hosts.stack.path, "--json", '{"e": {"v": "two"}}')
    assert code == 0, err
    time.sleep(1)
    assert hosts.exec(name, "cat", "/opt/echo-starts").stdout.count("started") == starts + 1
    restarts = [r for r in report["hosts"][0]["resources"] if r["resource"] == "service[echo-svc] (restart)"]
    assert len(restarts) == 1 and restarts[0]["status"] == "changed"


def test_failing_execute_stops_that_host_only(docker_hosts, tmp_path) -> None:
    recipe = '''
        file("/opt/before", content="b\\n")
        if instance.name == "app1":
            execute("echo about to fail >&2; exit 7")
        file("/opt/after", content="a\\n")
    '''
    books = write_cookbook(tmp_path, "f", {"default": recipe})
    hosts = docker_hosts(2, config=stack_config(books, ["f"]))
    code, report, _ = converge_json(hosts.stack.path)
    assert code == 1
    hosts_ = by_host(report)
    bad, good = hosts_["app1"], hosts_["app2"]
    assert not bad["ok"] and good["ok"]
    statuses = {r["resource"]: r["status"] for r in bad["resources"]}
    assert statuses["file[/opt/before]"] == "changed" and statuses["file[/opt/after]"] == "not-run"
    failed = next(r for r in bad["resources"] if r["status"] == "failed")
    assert "about to fail" in failed["output"] and failed["location"].endswith("default.py:4")
    assert hosts.exec("app1", "test", "-e", "/opt/after", check=False).returncode == 1
    assert hosts.exec("app2", "cat", "/opt/after").stdout == "a\n"
    text = runner(hosts.stack.path, "converge")
    assert text.returncode == 1 and "app1: execute[echo about to fail >&2; exit 7] failed" in text.stdout


def test_directories_made_at_once_keep_their_own_results(docker_hosts, tmp_path) -> None:
    """Consecutive directories are made by one mkdir; a failure among them is still its own resource's."""
    recipe = f'''
        user("dirowner", home="/home/dirowner", shell="/bin/sh")
        names = ["a", "b", {HOSTILE_NAME!r}, "c"]
        if instance.name == "app1":
            names[2:2] = ["x" * 300]  # the probe finds it absent; only mkdir finds the name too long
        for n in names:
            directory(f"/opt/many/{{n}}", owner="dirowner", group="dirowner", mode="0750")
        file("/opt/many/after", content="a\\n")
    '''
    books = write_cookbook(tmp_path, "m", {"default": recipe})
    hosts = docker_hosts(2, config=stack_config(books, ["m"]))
    code, report, _ = converge_json(hosts.stack.path)
    assert code == 1
    bad, good = by_host(report)["app1"], by_host(report)["app2"]
    def dirs(host: dict) -> list[str]:
        return [r["status"] for r in host["resources"] if r["resource"].startswith("directory[/opt/many/")]

    assert good["ok"] and dirs(good) == ["changed"] * 4
    listing = hosts.exec("app2", "sh", "-c", "cd /opt/many && stat -c '%a %U %G %n' -- *").stdout.splitlines()
    made = [f"750 dirowner dirowner {n}" for n in ("a", "b", HOSTILE_NAME, "c")]
    assert sorted(listing) == sorted([*made, "644 root root after"])
    assert dirs(bad) == ["changed", "changed", "failed", "not-run", "not-run"]
    failed = next(r for r in bad["resources"] if r["status"] == "failed")
    assert "File name too long" in failed["output"] and failed["location"].endswith("default.py:7")
    assert hosts.exec("app1", "ls", "-A", "/opt/many").stdout.split() == ["a", "b"]
    for leftover in ("/pwned", "/pwned2", "/pwned3", "/opt/many/pwned"):
        assert hosts.exec("app2", "test", "-e", leftover, check=False).returncode == 1


def test_killed_runner_leaves_no_half_written_file(docker_hosts, tmp_path) -> None:
    big = "0123456789abcdef" * (4 * 1024 * 1024 // 16)  # 4 MiB
    recipe = f'''
        file("/opt/k/big", content=node["k"]["fill"] * {len(big) // 16})
        execute("sleep 4; touch /opt/k/slept", creates="/opt/k/slept")
        file("/opt/k/after", content=node["k"]["fill"] * {len(big) // 16})
    '''
    books = write_cookbook(tmp_path, "k", {"default": recipe}, attributes="k:\n  fill: '0123456789abcdef'\n")
    hosts = docker_hosts(1, config=stack_config(books, ["k"], setup=[]))
    name = hosts.names[0]
    hosts.exec(name, "mkdir", "-p", "/opt/k")
    hosts.exec(name, "sh", "-c", "printf old > /opt/k/after")
    proc = subprocess.Popen([sys.executable, "-m", "runner", "converge", "-f", str(hosts.stack.path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until the apply is under way, then kill the runner outright
        if "applying" in line and "with setup" not in line or time.monotonic() > deadline:
            break
    time.sleep(2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(5)  # let the host notice the connection is gone
    after = hosts.exec(name, "cat", "/opt/k/after").stdout
    assert after in ("old", big), "half-written /opt/k/after"
    listing = hosts.exec(name, "ls", "-A", "/opt/k").stdout.split()
    assert all(n in ("big", "after", "slept") for n in listing), listing
    code, report, err = converge_json(hosts.stack.path)
    assert code == 0, err
    digest = hashlib.sha256(big.encode()).hexdigest()
    assert hosts.exec(name, "sh", "-c", "sha256sum < /opt/k/after").stdout.split()[0] == digest
    assert converge_json(hosts.stack.path)[1]["hosts"][0]["remote_commands"] == 1


def test_secrets_never_reach_output(docker_hosts, tmp_path) -> None:
    recipe = '''
        app = apps["web"]
        template("/opt/web.env", source="env.j2", variables={"env": app.environment})
        execute("echo " + app.environment["DB_PASSWORD"] + " >&2; exit 1", ignore_failure=True)
    '''
    books = write_cookbook(tmp_path, "s", {"default": recipe},
                           templates={"env.j2": "{% for k, v in env.items() %}{{ k }}={{ v }}\n{% endfor %}"})
    config = stack_config(books, ["s"])
    config["apps"] = {"web": {"layers": ["app"], "source": {"type": "directory", "path": str(tmp_path)},
                              "environment": {"PLAIN": "visible", "DB_PASSWORD": {"value": SECRET, "secure": True}}}}
    hosts = docker_hosts(1, config=config)
    outputs = []
    for args in (("plan",), ("converge", "-v"), ("converge", "--format", "json"), ("plan", "--format", "json")):
        proc = runner(hosts.stack.path, *args)
        outputs.append(proc.stdout + proc.stderr)
    for out in outputs:
        assert SECRET not in out
    assert "web.env" in outputs[0]
    name = hosts.names[0]
    assert f"DB_PASSWORD={SECRET}" in hosts.exec(name, "cat", "/opt/web.env").stdout
    assert SECRET in hosts.exec(name, "cat", "/srv/web/databags/aws_opsworks_app.json").stdout
    assert hosts.exec(name, "stat", "-c", "%a", "/srv/web/databags/aws_opsworks_app.json").stdout.strip() == "600"


def test_a_recipe_error_touches_no_host(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path, "b", {"default": 'file("/opt/x", content="1")\nfile("/opt/y", mode=)\n'})
    hosts = docker_hosts(1, config=stack_config(books, ["b"]))
    proc = runner(hosts.stack.path, "converge")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "b/recipes/default.py:2" in proc.stderr
    assert hosts.exec(hosts.names[0], "test", "-e", "/opt/x", check=False).returncode == 1


def test_execute_recipes_runs_just_those(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path, "x", {"default": 'file("/opt/default", content="d")\n',
                                           "extra": 'file("/opt/extra", content="e")\n'})
    hosts = docker_hosts(1, config=stack_config(books, ["x"]))
    proc = runner(hosts.stack.path, "execute-recipes", "x::extra")
    assert proc.returncode == 0, proc.stderr
    name = hosts.names[0]
    assert hosts.exec(name, "cat", "/opt/extra").stdout == "e"
    assert hosts.exec(name, "test", "-e", "/opt/default", check=False).returncode == 1
    bad = runner(hosts.stack.path, "execute-recipes", "x::extr")
    assert bad.returncode == 2 and "did you mean" in bad.stderr
