"""`runner deploy|rollback|undeploy|history` against real Docker hosts, through the real command line.

The app is a copy of apps/hello; the hosts are set up by the sample cookbooks
(base, nodejs_demo), so each test sees what a user of the demo stack sees.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from deploy_support import (
    HEALTH,
    HOSTILE,
    SECRET,
    app_copy,
    app_stack,
    by_host,
    converged,
    current,
    runner,
    runner_json,
    served_release,
    sh,
    write_hook,
)


@pytest.fixture(scope="module")
def two_hosts(docker_hosts_module, tmp_path_factory):
    app = app_copy(tmp_path_factory.mktemp("app"))
    hosts = docker_hosts_module(2, config=app_stack(app))
    converged(hosts)  # setup ends with a deploy: both hosts run one new release from the source
    hosts.setup_release = current(hosts, hosts.names[0]).removeprefix("releases/")
    assert hosts.setup_release and all(current(hosts, n) == f"releases/{hosts.setup_release}" for n in hosts.names)
    hosts.app = app
    return hosts


def test_deploy_keep_releases_rollback_and_history(two_hosts) -> None:
    hosts = two_hosts
    releases = []
    for n in range(7):
        code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
        assert code == 0, err
        assert all(h["result"] == "ok" for h in report["hosts"]), report
        releases.append(report["release"])
        if n == 0:
            for name in hosts.names:
                assert current(hosts, name) == f"releases/{report['release']}"
                assert served_release(hosts, name) == report["release"]
    assert len(set(releases)) == 7 and releases == sorted(releases)
    for name in hosts.names:
        assert served_release(hosts, name) == releases[-1]
        kept = sh(hosts, name, "ls /srv/hello/releases").split()
        assert kept == releases[-5:], "keep_releases 5: the current one and four to go back to"
        meta = json.loads(sh(hosts, name, f"cat /srv/hello/releases/{releases[-1]}/.release.json"))
        assert meta["status"] == "deployed" and meta["checksum"].startswith("sha256:")
        assert meta["source"].startswith("directory ") and meta["who"] and meta["time"]
        assert sorted(sh(hosts, name, "ls /srv/hello/shared").split()) == ["config", "log", "pids", "system"]
        assert sh(hosts, name, "readlink /srv/hello/current/log") == "/srv/hello/shared/log"
        assert sh(hosts, name, "stat -c %a /srv/hello/shared/config/environment") == "600"
        assert sh(hosts, name, "ls /srv/hello/databags") .split() == [
            "aws_opsworks_app.json", "aws_opsworks_instance.json", "aws_opsworks_layer.json",
            "aws_opsworks_rds_db_instance.json", "aws_opsworks_stack.json"]
        log = [json.loads(line) for line in sh(hosts, name, "cat /srv/hello/deployments.log").splitlines()]
        assert [e["command"] for e in log] == ["setup"] + ["deploy"] * 7, "setup's deploy, then seven deploys"

    for back in range(1, 5):  # four rollbacks, one release each
        code, report, err = runner_json(hosts.stack.path, "rollback", "hello")
        assert code == 0, err
        for name in hosts.names:
            assert current(hosts, name) == f"releases/{releases[-1 - back]}"
            assert served_release(hosts, name) == releases[-1 - back]

    proc = runner(hosts.stack.path, "rollback", "hello")  # nothing older is kept: a clear error
    assert proc.returncode == 1
    assert f"no release older than {releases[2]} to roll back to" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    for name in hosts.names:
        assert current(hosts, name) == f"releases/{releases[2]}"
        assert served_release(hosts, name) == releases[2]

    proc = runner(hosts.stack.path, "history", "hello", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["deployments"]
    # the refused fifth rollback changed nothing on any host, so no host logged it
    assert [r["command"] for r in rows] == ["setup"] + ["deploy"] * 7 + ["rollback"] * 4
    assert [r["release"] for r in rows] == [hosts.setup_release] + releases + releases[-2:-6:-1]
    assert all(r["hosts"] == sorted(hosts.names) and r["result"] == "ok" for r in rows)
    text = runner(hosts.stack.path, "history", "hello").stdout
    assert "TIME" in text and releases[-1] in text and "rollback" in text


def test_failed_hook_leaves_current_and_marks_the_release_failed(two_hosts) -> None:
    hosts = two_hosts
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    assert code == 0, err
    good = report["release"]
    write_hook(hosts.app, "before_symlink", f'echo "migrating with $DB_PASSWORD in $RELEASE_PATH"; '
                                            f'echo "{SECRET} again" >&2; exit 3')
    try:
        proc = runner(hosts.stack.path, "-v", "deploy", "hello")
        code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    finally:
        shutil.rmtree(hosts.app / "deploy")
    assert proc.returncode == 1 and code == 1
    assert SECRET not in proc.stdout + proc.stderr + err + json.dumps(report), "a secure value was shown"
    assert "hook:before_symlink" in proc.stdout and "migrating with" in proc.stdout
    for name in hosts.names:
        entry = by_host(report)[name]
        assert entry["result"] == "failed" and entry["step"] == "hook:before_symlink"
        assert "exit status" in entry["error"] and "migrating with ***" in (entry["output"] or "")
        assert current(hosts, name) == f"releases/{good}", "a failed deploy leaves current where it was"
        assert served_release(hosts, name) == good
        meta = json.loads(sh(hosts, name, f"cat /srv/hello/releases/{report['release']}/.release.json"))
        assert meta["status"] == "failed"
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    assert code == 0, err


def test_hooks_run_in_order_from_the_release_with_the_environment_literally(two_hosts) -> None:
    hosts = two_hosts
    for hook in ("before_migrate", "before_symlink", "before_restart", "after_restart"):
        write_hook(hosts.app, hook, f'printf "%s %s %s\\n" {hook} "$(pwd)" "$(readlink /srv/hello/current)" '
                                    f'>> /tmp/hooks.log; printf "%s" "$HOSTILE" > /tmp/hostile-seen')
    try:
        sh(hosts, hosts.names[0], "rm -f /tmp/hooks.log")
        code, report, err = runner_json(hosts.stack.path, "deploy", "hello", "--instance", hosts.names[0])
    finally:
        shutil.rmtree(hosts.app / "deploy")
    assert code == 0, err
    name, release = hosts.names[0], report["release"]
    lines = [line.split() for line in sh(hosts, name, "cat /tmp/hooks.log").splitlines()]
    assert [parts[0] for parts in lines] == ["before_migrate", "before_symlink", "before_restart", "after_restart"]
    assert {parts[1] for parts in lines} == {f"/srv/hello/releases/{release}"}
    assert lines[1][2] != f"releases/{release}" and lines[2][2] == f"releases/{release}", "switch after symlink hooks"
    assert sh(hosts, name, "cat /tmp/hostile-seen") == HOSTILE
    assert sh(hosts, name, "ls /tmp/pwned /tmp/pwned2 2>&1 || true").count("No such file") == 2
    assert by_host(report).keys() == {name}


def test_killed_deploy_leaves_current_and_the_next_deploy_works(two_hosts) -> None:
    hosts = two_hosts
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    assert code == 0, err
    good = report["release"]
    write_hook(hosts.app, "before_migrate", "echo started-migrating; sleep 6")
    proc = subprocess.Popen([sys.executable, "-m", "runner", "deploy", "hello", "-f", str(hosts.stack.path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        for line in proc.stdout:  # the release is being staged: kill the runner outright
            if "staging release" in line or time.monotonic() > deadline:
                break
        time.sleep(1.5)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        shutil.rmtree(hosts.app / "deploy")
    for name in hosts.names:
        assert current(hosts, name) == f"releases/{good}"
        assert served_release(hosts, name) == good
    time.sleep(6)  # the orphaned hook ends on the host
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    assert code == 0, err
    for name in hosts.names:
        assert current(hosts, name) == f"releases/{report['release']}"
        assert served_release(hosts, name) == report["release"]
        statuses = [json.loads(line or "{}").get("status", "staged") for line in sh(
            hosts, name, "for d in /srv/hello/releases/*/; do cat $d.release.json 2>/dev/null; echo; done"
        ).splitlines() if line.strip()]
        assert "staged" not in statuses, "the interrupted release was cleaned up"


def test_a_second_deploy_at_the_same_time_is_refused(two_hosts) -> None:
    hosts = two_hosts
    write_hook(hosts.app, "before_migrate", "sleep 4")
    first = subprocess.Popen([sys.executable, "-m", "runner", "deploy", "hello", "-f", str(hosts.stack.path)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        assert first.stdout is not None
        for line in first.stdout:  # both hosts are locked once staging starts
            if "staging release" in line or time.monotonic() > deadline:
                break
        code, report, err = runner_json(hosts.stack.path, "rollback", "hello")
        rest, _ = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
        shutil.rmtree(hosts.app / "deploy")
    assert first.returncode == 0, rest
    assert code == 1
    for name in hosts.names:
        entry = by_host(report)[name]
        assert entry["step"] == "lock" and "another deploy, rollback or undeploy of hello" in entry["error"]
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")  # the lock went with the first runner
    assert code == 0, err


def test_rolling_health_failure_in_batch_2_puts_batch_2_back(docker_hosts, tmp_path) -> None:
    app = app_copy(tmp_path)
    check = f"test ! -e /tmp/unhealthy && {HEALTH}"
    # the check runs right after the restart, in the same command: the retries give the app time to start
    hosts = docker_hosts(3, config=app_stack(app, strategy="rolling", batch=1,
                                             health_check={"command": check, "retries": 3, "interval": 0.5}))
    converged(hosts)
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    assert code == 0, err
    old = report["release"]
    sh(hosts, "app2", "touch /tmp/unhealthy")
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    assert code == 1
    new = report["release"]
    results = by_host(report)
    assert results["app1"]["result"] == "ok" and current(hosts, "app1") == f"releases/{new}"
    assert served_release(hosts, "app1") == new, "batch 1 keeps the new release"
    assert results["app2"]["result"] == "put_back" and results["app2"]["step"] == "health_check"
    assert "unhealthy after 4 tries" in results["app2"]["output"]
    assert current(hosts, "app2") == f"releases/{old}" and served_release(hosts, "app2") == old
    assert results["app3"]["result"] == "skipped" and current(hosts, "app3") == f"releases/{old}"
    assert report["stopped"] == "batch 2 failed"
    assert [b["hosts"] for b in report["batches"]] == [["app1"], ["app2"]]
    assert json.loads(sh(hosts, "app2", f"cat /srv/hello/releases/{new}/.release.json"))["status"] == "failed"


def test_undeploy_removes_the_app_and_keeps_its_history(docker_hosts, tmp_path) -> None:
    app = app_copy(tmp_path)
    hosts = docker_hosts(1, config=app_stack(app))
    converged(hosts)
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    assert code == 0, err
    name = hosts.names[0]
    assert served_release(hosts, name) == report["release"]
    code, report, err = runner_json(hosts.stack.path, "undeploy", "hello")
    assert code == 0, err
    assert sh(hosts, name, "test -e /srv/hello && echo left || echo gone") == "gone"
    assert sh(hosts, name, "test -e /etc/systemd/system/hello.service && echo left || echo gone") == "gone"
    assert sh(hosts, name, "curl -s localhost:8080/ >/dev/null && echo up || echo down") == "down"
    rows = json.loads(runner(hosts.stack.path, "history", "hello", "--format", "json").stdout)["deployments"]
    assert [r["command"] for r in rows] == ["setup", "deploy", "undeploy"]


def test_bad_input_is_exit_2_and_touches_nothing(two_hosts) -> None:
    hosts = two_hosts
    before = {n: current(hosts, n) for n in hosts.names}
    for args, message in [
        (("deploy", "helo"), "no app 'helo'"),
        (("deploy", "hello", "--strategy", "rollin"), "unknown strategy 'rollin'"),
        (("deploy", "hello", "--batch", "0"), "--batch 0"),
        (("rollback", "nope"), "no app 'nope'"),
    ]:
        proc = runner(hosts.stack.path, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr
    assert {n: current(hosts, n) for n in hosts.names} == before


def test_git_source_records_the_revision(docker_hosts, tmp_path) -> None:
    repo = app_copy(tmp_path)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "hello"], check=True)
    sha = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    config = app_stack(repo)
    config["apps"]["hello"]["source"] = {"type": "git", "url": f"file://{repo}", "revision": "main"}
    hosts = docker_hosts(1, config=config)
    converged(hosts)
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    assert code == 0, err
    name = hosts.names[0]
    meta = json.loads(sh(hosts, name, f"cat /srv/hello/releases/{report['release']}/.release.json"))
    assert meta["revision"] == sha and meta["source"].startswith("git ")
    assert served_release(hosts, name) == report["release"]
    rows = json.loads(runner(hosts.stack.path, "history", "hello", "--format", "json").stdout)["deployments"]
    assert rows[0]["revision"] == sha


def test_status_shows_setup_and_each_apps_release(two_hosts) -> None:
    hosts = two_hosts
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    assert code == 0, err
    proc = runner(hosts.stack.path, "status", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = {row["instance"]: row for row in json.loads(proc.stdout)["instances"]}
    for name in hosts.names:
        assert rows[name]["status"] == "online" and rows[name]["setup"] is True
        assert rows[name]["apps"]["hello"]["release"] == report["release"]
        assert rows[name]["apps"]["hello"]["status"] == "deployed"
    text = runner(hosts.stack.path, "status").stdout
    assert "RELEASE STATUS" in text and report["release"] in text


def test_a_failed_first_deploy_leaves_the_app_not_running(docker_hosts, tmp_path) -> None:
    app = app_copy(tmp_path)
    hosts = docker_hosts(1, config=app_stack(app, health_check={"command": "false", "retries": 0}))
    # set up while the stack has no app yet (setup would deploy it), then the app's first deploy
    document = json.loads(hosts.stack.path.read_text())
    apps = document.pop("apps")
    hosts.stack.path.write_text(json.dumps(document))
    converged(hosts)
    hosts.stack.path.write_text(json.dumps({**document, "apps": apps}))
    code, report, err = runner_json(hosts.stack.path, "deploy", "hello")
    assert code == 1
    name = hosts.names[0]
    assert by_host(report)[name]["result"] == "put_back" and by_host(report)[name]["step"] == "health_check"
    assert current(hosts, name) == "", "no release before: no current after"
    assert sh(hosts, name, "curl -s localhost:8080/ >/dev/null && echo up || echo down") == "down"
    meta = json.loads(sh(hosts, name, f"cat /srv/hello/releases/{report['release']}/.release.json"))
    assert meta["status"] == "failed"
