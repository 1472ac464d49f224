"""Setup ends with a deploy, as in OpsWorks, at the release the app's other instances run.

Real Docker hosts through the real command line: instances are added to the
stack file and started with `runner instances start`, which ends with a converge.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from deploy_support import HEALTH, REPO, by_host, runner, runner_json, served_release, sh

APP = "accapp"
ACC_DEPLOY = '''\
# written as OpsWorks users write deploy recipes: the release is there, so are its shared directories
for name in apps:
    file(f"/srv/{name}/shared/config/acc.conf", content=f"release={deployment.release}\\n")
    execute(f"cp /srv/{name}/current/VERSION /srv/{name}/shared/config/served-version")
'''
ACC_CONFIGURE = 'file("/etc/acc-configured", content=" ".join(sorted(i.name for i in instances)) + "\\n")\n'


def acc_stack(tmp_path: Path, health: str = HEALTH) -> tuple[dict, Path]:
    """The sample app as ``accapp`` (with a VERSION file), the sample cookbooks and an OpsWorks-style recipe."""
    app = tmp_path / "accapp-src"
    shutil.copytree(REPO / "apps" / "hello", app)
    (app / "VERSION").write_text("v1\n")
    book = tmp_path / "books" / "acc"
    (book / "recipes").mkdir(parents=True)
    (book / "metadata.yml").write_text("name: acc\nversion: 0.1.0\n")
    (book / "recipes" / "deploy.py").write_text(ACC_DEPLOY)
    (book / "recipes" / "configure.py").write_text(ACC_CONFIGURE)
    config = {
        "stack": {"cookbooks": [{"path": str(REPO / "cookbooks")}, {"path": str(tmp_path / "books")}]},
        "layers": {"app": {"recipes": {"setup": ["nodejs_demo::setup"], "configure": ["acc::configure"],
                                       "deploy": ["nodejs_demo::deploy", "acc::deploy"],
                                       "undeploy": ["nodejs_demo::undeploy"]}}},
        "apps": {APP: {"layers": ["app"], "source": {"type": "directory", "path": str(app)},
                       "environment": {"GREETING": "hi"},
                       # the check runs right after the restart, in the same command: its retries give the
                       # app time to start (a fresh host's first start is the slowest)
                       "deploy": {"strategy": "all_at_once", "health_check": {"command": health, "retries": 5,
                                                                              "interval": 0.5}}}},
    }
    return config, app


def add_instance(stack_file: Path, name: str) -> None:
    document = json.loads(stack_file.read_text())
    document["instances"][name] = {"layers": ["app"]}
    stack_file.write_text(json.dumps(document, indent=2) + "\n")


def current(hosts, name: str) -> str:
    return sh(hosts, name, f"readlink /srv/{APP}/current || true").removeprefix("releases/")


def meta(hosts, name: str, release: str) -> dict:
    return json.loads(sh(hosts, name, f"cat /srv/{APP}/releases/{release}/.release.json"))


def set_up(hosts, name: str) -> bool:
    marker = f"/var/lib/runner/setup-{hosts.stack.name}.json"
    return sh(hosts, name, f"test -s {marker} && echo yes || echo no") == "yes"


def log_lines(hosts, name: str) -> list[dict]:
    return [json.loads(line) for line in sh(hosts, name, f"cat /srv/{APP}/deployments.log").splitlines()]


def test_a_new_instance_joins_at_the_release_the_others_run(docker_hosts, tmp_path) -> None:
    config, _ = acc_stack(tmp_path)
    hosts = docker_hosts(2, config=config)
    stack_file = hosts.stack.path

    # a fresh converge of an app deployed nowhere: setup deploys it from the source, one release for both
    code, report, err = runner_json(stack_file, "converge")
    assert code == 0, json.dumps(report, indent=1) + err
    first = current(hosts, "app1")
    assert first and current(hosts, "app2") == first
    for name in ("app1", "app2"):
        host = by_host(report)[name]
        assert host["ran_setup"] and set_up(hosts, name)
        deploy = next(r for r in host["resources"] if r["resource"] == f"deploy[{APP}]")
        assert deploy["status"] == "changed" and deploy["changes"] == [f"release {first} (new release from directory "
                                                                       f"{config['apps'][APP]['source']['path']})"]
        assert sh(hosts, name, f"test -d /srv/{APP}/releases/{first} && echo yes") == "yes"
        assert meta(hosts, name, first)["status"] == "deployed"
        assert served_release(hosts, name) == first
        assert [(e["command"], e["release"], e["result"]) for e in log_lines(hosts, name)] == [("setup", first, "ok")]

    code, report, err = runner_json(stack_file, "deploy", APP)
    assert code == 0, err
    release = report["release"]
    assert release > first and served_release(hosts, "app1") == served_release(hosts, "app2") == release

    # the reproduction: a third instance, started (which converges); its deploy recipe assumes current exists
    add_instance(stack_file, "app3")
    proc = runner(stack_file, "instances", "start", "--instance", "app3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "from the local source (same checksum)" in proc.stderr
    assert current(hosts, "app3") == release and served_release(hosts, "app3") == release
    assert meta(hosts, "app3", release) == meta(hosts, "app1", release), "the same .release.json as the others"
    assert meta(hosts, "app3", release)["revision"] == meta(hosts, "app1", release)["revision"]
    assert sh(hosts, "app3", f"ls /srv/{APP}/releases") == release, "the fleet's release only"
    assert sh(hosts, "app3", f"cat /srv/{APP}/shared/config/acc.conf") == f"release={release}"
    assert sh(hosts, "app3", f"cat /srv/{APP}/shared/config/served-version") == "v1"
    assert sh(hosts, "app3", "cat /etc/acc-configured") == "app1 app2 app3" and set_up(hosts, "app3")
    assert sh(hosts, "app1", "cat /etc/acc-configured") == "app1 app2 app3", "the others were configured"
    entry = log_lines(hosts, "app3")[-1]
    assert (entry["command"], entry["release"], entry["result"], entry["previous"]) == ("setup", release, "ok", None)

    # nothing changes now: one remote command per host
    code, report, err = runner_json(stack_file, "converge")
    assert code == 0, err
    for host in report["hosts"]:
        changed = [r["resource"] for r in host["resources"] if r["status"] == "changed"]
        assert changed == [] and host["remote_commands"] == 1 and not host["ran_setup"], host

    # an explicit setup of a host that runs the fleet's release deploys nothing new (its recipes converge)
    code, report, err = runner_json(stack_file, "setup", "--instance", "app3")
    assert code == 0, err
    deploy = next(r for r in report["hosts"][0]["resources"] if r["resource"] == f"deploy[{APP}]")
    assert deploy["status"] == "ok" and current(hosts, "app3") == release
    assert len(log_lines(hosts, "app3")) == 1


def test_changed_source_the_new_instance_gets_the_old_content_from_a_peer(docker_hosts, tmp_path) -> None:
    config, app = acc_stack(tmp_path)
    hosts = docker_hosts(2, config=config)
    stack_file = hosts.stack.path
    code, report, err = runner_json(stack_file, "converge")
    assert code == 0, err
    release = current(hosts, "app1")
    (app / "VERSION").write_text("v2 (not deployed)\n")  # the source moved on; the fleet did not

    add_instance(stack_file, "app3")
    started = runner(stack_file, "instances", "start", "--instance", "app3", "--no-lifecycle")
    assert started.returncode == 0, started.stdout + started.stderr
    plan = runner(stack_file, "plan", "--instance", "app3")  # a plan deploys nothing
    assert plan.returncode == 0, plan.stderr
    assert "setup would run first" in plan.stdout
    assert sh(hosts, "app3", f"test -e /srv/{APP} && echo there || echo absent") == "absent"
    assert not set_up(hosts, "app3")

    proc = runner(stack_file, "converge")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"copying release {release} of {APP} from app1" in proc.stderr
    assert current(hosts, "app3") == release and served_release(hosts, "app3") == release
    assert sh(hosts, "app3", f"cat /srv/{APP}/current/VERSION") == "v1", "the fleet's content, not the source's"
    server = f"cat /srv/{APP}/current/server.py"
    assert sh(hosts, "app3", server) == sh(hosts, "app1", server)
    assert meta(hosts, "app3", release) == meta(hosts, "app1", release)
    # the links into shared/ are the new host's own, made by its stage step
    assert sh(hosts, "app3", f"readlink /srv/{APP}/current/log") == f"/srv/{APP}/shared/log"
    assert sh(hosts, "app3", f"readlink /srv/{APP}/current/config/environment") == \
        f"/srv/{APP}/shared/config/environment"
    assert log_lines(hosts, "app3")[-1]["origin"] == "copied from app1"


def test_a_failing_deploy_in_setup_fails_that_host_only_and_writes_no_marker(docker_hosts, tmp_path) -> None:
    config, _ = acc_stack(tmp_path, health=f"test ! -e /tmp/unhealthy && {HEALTH}")
    hosts = docker_hosts(2, config=config)
    stack_file = hosts.stack.path
    sh(hosts, "app2", "touch /tmp/unhealthy")

    code, report, err = runner_json(stack_file, "converge")
    assert code == 1
    good, bad = by_host(report)["app1"], by_host(report)["app2"]
    assert good["ok"] and set_up(hosts, "app1")
    release = current(hosts, "app1")
    assert release and served_release(hosts, "app1") == release
    assert not bad["ok"] and bad["cause"] == "setup-deploy"
    assert bad["error"].startswith(f"setup's deploy of app {APP} failed at step health_check: ")
    assert not set_up(hosts, "app2"), "a failed setup deploy writes no marker: the next converge sets it up again"
    assert current(hosts, "app2") == "", "put back: no release before, no current after"
    assert sh(hosts, "app2", "test -e /etc/acc-configured && echo yes || echo no") == "no", "configure did not run"
    statuses = {r["resource"]: r["status"] for r in bad["resources"]}
    assert statuses[f"deploy[{APP}]"] == "failed"
    assert statuses[f"file[/var/lib/runner/setup-{hosts.stack.name}.json]"] == "not-run"
    text = runner(stack_file, "converge")  # the text report names the app and the step too
    assert text.returncode == 1 and f"app2: setup's deploy of app {APP} failed at step health_check" in text.stdout

    sh(hosts, "app2", "rm /tmp/unhealthy")
    code, report, err = runner_json(stack_file, "converge")
    assert code == 0, json.dumps(report, indent=1) + err
    assert by_host(report)["app2"]["ran_setup"] and not by_host(report)["app1"]["ran_setup"]
    assert by_host(report)["app1"]["remote_commands"] == 1
    assert set_up(hosts, "app2") and current(hosts, "app2") == release and served_release(hosts, "app2") == release
    assert meta(hosts, "app2", release) == meta(hosts, "app1", release)
    assert [e["result"] for e in log_lines(hosts, "app2")] == ["failed", "failed", "ok"]
