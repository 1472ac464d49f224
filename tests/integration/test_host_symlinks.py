"""Symlinks planted on a host (by someone who can write /srv) or shipped in a source are never written through.

Each test plants a link on ``app1`` as root, runs the real command line, and
checks that the run failed on that host only, with an error naming the path
and saying it is a symlink, while ``app2`` deployed; and that the victims
(/etc/victim, /etc/victimdir, /etc/victimnew) are as they were.
"""

from __future__ import annotations

import json

import pytest
from deploy_support import app_copy, app_stack, by_host, converged, current, runner, runner_json, sh

VICTIMS = ("printf 'original\\n' > /etc/victim && rm -rf /etc/victimdir /etc/victimnew /etc/victimcfg && "
           "mkdir /etc/victimdir")
UNTOUCHED = ("cat /etc/victim; ls -A /etc/victimdir; test -e /etc/victimnew && echo victimnew; "
             "test -e /etc/victimcfg && echo victimcfg; true")


@pytest.fixture(scope="module")
def two_hosts(docker_hosts_module, tmp_path_factory):
    app = app_copy(tmp_path_factory.mktemp("app"))
    hosts = docker_hosts_module(2, config=app_stack(app))
    converged(hosts)
    hosts.app = app
    return hosts


@pytest.fixture
def victims(two_hosts):
    for name in two_hosts.names:
        sh(two_hosts, name, VICTIMS)
    yield two_hosts
    for name in two_hosts.names:
        assert sh(two_hosts, name, UNTOUCHED) == "original", f"something was written through a link on {name}"


def refused_on_app1(hosts, command: str, path: str, sensitive: bool = False) -> dict:
    code, report, err = runner_json(hosts.stack.path, command, "hello")
    assert code != 0, report
    results = by_host(report)
    assert results["app2"]["result"] == "ok", results["app2"]
    failed = results["app1"]
    text = f"{failed.get('error')}\n{failed.get('output')}"
    assert failed["result"] != "ok" and path in text, failed
    assert "is a symlink" in text or (sensitive and "output hidden: sensitive resource" in text), failed
    return failed


# (what is planted, how it is undone, the path the error names)
PLANTED = {
    "deployments.log": ("mv /srv/hello/deployments.log /srv/hello/log.saved && "
                        "ln -s /etc/victim /srv/hello/deployments.log",
                        "rm /srv/hello/deployments.log && mv /srv/hello/log.saved /srv/hello/deployments.log",
                        "/srv/hello/deployments.log"),
    "shared/config": ("mv /srv/hello/shared/config /srv/hello/config.saved && ln -s /etc/victimdir "
                      "/srv/hello/shared/config",
                      "rm /srv/hello/shared/config && mv /srv/hello/config.saved /srv/hello/shared/config",
                      "/srv/hello/shared/config"),
    "shared/config/environment": ("mv /srv/hello/shared/config/environment /srv/hello/env.saved && "
                                  "ln -s /etc/victim /srv/hello/shared/config/environment",
                                  "rm /srv/hello/shared/config/environment && "
                                  "mv /srv/hello/env.saved /srv/hello/shared/config/environment",
                                  "/srv/hello/shared/config/environment"),
    "shared": ("mv /srv/hello/shared /srv/hello/shared.saved && ln -s /etc/victimdir /srv/hello/shared",
               "rm /srv/hello/shared && mv /srv/hello/shared.saved /srv/hello/shared", "/srv/hello/shared"),
    "releases": ("mv /srv/hello/releases /srv/hello/releases.saved && ln -s /etc/victimdir /srv/hello/releases",
                 "rm /srv/hello/releases && mv /srv/hello/releases.saved /srv/hello/releases",
                 "/srv/hello/releases"),
    "lock": ("mkdir -p /var/lib/runner/locks && rm -f /var/lib/runner/locks/hello.lock && "
             "ln -s /etc/victimnew /var/lib/runner/locks/hello.lock",
             "rm /var/lib/runner/locks/hello.lock", "/var/lib/runner/locks/hello.lock"),
    "databag": ("mv /srv/hello/databags/aws_opsworks_app.json /srv/hello/bag.saved && "
                "ln -s /etc/victimdir /srv/hello/databags/aws_opsworks_app.json",
                "rm /srv/hello/databags/aws_opsworks_app.json && "
                "mv /srv/hello/bag.saved /srv/hello/databags/aws_opsworks_app.json",
                "/srv/hello/databags/aws_opsworks_app.json"),
    "databags": ("mv /srv/hello/databags /srv/hello/databags.saved && ln -s /etc/victimdir /srv/hello/databags",
                 "rm /srv/hello/databags && mv /srv/hello/databags.saved /srv/hello/databags",
                 "/srv/hello/databags"),
}


@pytest.mark.parametrize("what", list(PLANTED))
def test_a_planted_link_fails_the_deploy_on_that_host_only(victims, what: str) -> None:
    hosts = victims
    plant, undo, path = PLANTED[what]
    before = current(hosts, "app1")
    sh(hosts, "app1", plant)
    try:
        refused_on_app1(hosts, "deploy", path, sensitive=what == "databag")  # a databag's output is hidden
        assert sh(hosts, "app1", f"test -L {path} && echo link") == "link"  # left alone, not replaced or followed
    finally:
        sh(hosts, "app1", undo)
    if what not in ("databag", "databags"):  # those are written by the deploy recipes, after the switch
        assert current(hosts, "app1") == before
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")  # without the link it works again
    assert code == 0 and all(h["result"] == "ok" for h in report["hosts"]), (report, err)


def test_a_setup_marker_link_is_not_followed(victims) -> None:
    hosts = victims
    marker = f"/var/lib/runner/setup-{hosts.stack.name}.json"
    sh(hosts, "app1", f"mv {marker} /var/lib/runner/marker.saved && ln -s /etc/victimdir {marker}")
    try:
        proc = runner(hosts.stack.path, "setup", "--format", "json")
        assert proc.returncode != 0
        results = by_host(json.loads(proc.stdout))
        assert results["app2"]["ok"] and not results["app1"]["ok"]
        assert f"{marker} is a symlink" in json.dumps(results["app1"]), results["app1"]
    finally:
        sh(hosts, "app1", f"rm {marker} && mv /var/lib/runner/marker.saved {marker}")


def test_a_source_linking_outside_is_refused_before_any_host(victims) -> None:
    hosts = victims
    before = {name: current(hosts, name) for name in hosts.names}
    (hosts.app / "config").symlink_to("/etc/victimcfg")
    try:
        proc = runner(hosts.stack.path, "deploy", "hello")
    finally:
        (hosts.app / "config").unlink()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "app 'hello'" in proc.stderr and "symlink 'config' -> '/etc/victimcfg'" in proc.stderr
    assert "stack.yml" in proc.stderr and "Traceback" not in proc.stderr
    assert {name: current(hosts, name) for name in hosts.names} == before


@pytest.mark.parametrize("plant, path", [
    ("mv /srv/hello/deployments.log /srv/hello/log.saved && ln -s /etc/victim /srv/hello/deployments.log",
     "/srv/hello/deployments.log"),
    ("mkdir -p /var/lib/runner/undeployed && ln -sfn /etc/victim /var/lib/runner/undeployed/hello.log",
     "/var/lib/runner/undeployed/hello.log"),
])
def test_undeploy_does_not_follow_a_planted_link(victims, plant: str, path: str) -> None:
    hosts = victims
    sh(hosts, "app1", plant)
    try:
        refused_on_app1(hosts, "undeploy", path)
        assert sh(hosts, "app1", "test -d /srv/hello/releases && echo kept") == "kept"
    finally:
        sh(hosts, "app1", f"rm -f {path}; if [ -e /srv/hello/log.saved ]; then mv /srv/hello/log.saved {path}; fi")
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")  # both hosts run the app again
    assert code == 0, (report, err)


def test_undeploy_removes_planted_links_not_their_targets(victims) -> None:
    hosts = victims
    sh(hosts, "app1", "touch /etc/victimdir/keep && ln -s /etc/victimdir /srv/hello/shared/system/planted && "
       "ln -s /etc/victimdir /srv/hello/planted")
    try:
        code, report, err = runner_json(hosts.stack.path, "undeploy", "hello")
        assert code == 0, (report, err)
        assert sh(hosts, "app1", "ls -A /etc/victimdir; test -e /srv/hello && echo left; true") == "keep"
    finally:
        sh(hosts, "app1", "rm -f /etc/victimdir/keep")
