"""The built-in resource types against a real Debian host (sshd in Docker, no init system).

A small harness below plays the engine's part of the contract
(runner/resources/api.py): all probes of a converge in one remote command,
each ``( probe ) </dev/null`` with its stdout kept apart and stderr
dropped; then ``parse`` and ``diff``; then every step in one more command,
each in its own ``set -e`` subshell with its payloads in files named by ``$P0`` ...
Each test converges, checks the host from outside SSH (``docker exec``),
converges again to see nothing left to do, then undoes its work.
"""

from __future__ import annotations

import posixpath
import shlex
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pytest

from runner.resources.api import Change, CompileContext, Resource, Step
from runner.resources.builtin import Directory, Execute, File, Group, Link, Package, Service, Template, User
from runner.resources.builtin.package import DPKG_CACHE
from runner.ssh.connection import Connection
from runner.ssh.target import resolve_target

HOSTILE = "we ird 'sq' \"dq\" $(touch /tmp/pwned) `touch /tmp/pwned2`; touch /tmp/pwned3"
PWNED = ("/tmp/pwned", "/tmp/pwned2", "/tmp/pwned3")


# -- the harness: the engine's contract, in miniature --------------------------------


class StepFailed(AssertionError):
    pass


@dataclass
class Report:
    changes: dict[str, list[Change]] = field(default_factory=dict)
    output: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> list[str]:
        return [key for key, changes in self.changes.items() if changes]


def probe(conn: Connection, resources: Sequence[Resource]) -> list[Any]:
    """Run every probe in one command; return each resource's parsed state."""
    script = "\n".join(f"echo @@probe-{i}\n( {r.probe()}\n) </dev/null 2>/dev/null" for i, r in enumerate(resources))
    result = conn.run(script)
    assert result.ok, result.stderr
    outputs: dict[int, list[str]] = {}
    current = -1
    for line in result.text.splitlines(keepends=True):
        if line.startswith("@@probe-"):
            current = int(line.strip().removeprefix("@@probe-"))
            outputs[current] = []
        else:
            outputs[current].append(line)
    return [r.parse("".join(outputs.get(i, []))) for i, r in enumerate(resources)]


def run_steps(conn: Connection, steps: Sequence[tuple[str, Step]]) -> dict[str, str]:
    """Run the steps in order in one command (payloads uploaded first); raise on the first failure."""
    lines = []
    for i, (_key, step) in enumerate(steps):
        assigns = []
        for j, payload in enumerate(step.payloads):
            path = f"/tmp/.runner-payload-{uuid.uuid4().hex}"
            assert conn.run(f"cat > {shlex.quote(path)}", stdin=payload).ok
            assigns.append(f"P{j}={shlex.quote(path)}")
        lines.append(f"echo @@step-{i}")
        lines.append(f"( set -e; {' '.join(assigns)}\n{step.script}\n) </dev/null 2>&1")  # not in an ||: -e works
        lines.append(f"[ $? -eq 0 ] || {{ echo @@failed-{i}; exit 9; }}")
        lines.append("rm -f " + " ".join(a.split("=", 1)[1] for a in assigns) if assigns else ":")
    result = conn.run("\n".join(lines))
    outputs: dict[str, str] = {}
    current = None
    for line in result.text.splitlines(keepends=True):
        if line.startswith("@@step-"):
            current = steps[int(line.strip().removeprefix("@@step-"))][0]
            outputs[current] = ""
        elif line.startswith("@@failed-"):
            key = steps[int(line.strip().removeprefix("@@failed-"))][0]
            raise StepFailed(f"{key} failed:\n{outputs.get(key, '')}")
        elif current is not None:
            outputs[current] += line
    assert result.ok, result.text + result.stderr.decode()
    return outputs


def converge(conn: Connection, resources: Sequence[Resource]) -> Report:
    """Probe, diff, and apply what differs (packages batched into one step, as the engine does)."""
    report = Report()
    steps: list[tuple[str, Step]] = []
    batch: list[tuple[Resource, Any, list[Change]]] = []
    for resource, state in zip(resources, probe(conn, resources), strict=True):
        changes = resource.diff(state)
        report.changes[resource.key] = changes
        if changes and resource.batchable:
            batch.append((resource, state, changes))
        elif changes:
            steps.append((resource.key, resource.apply(state, changes)))
    if batch:
        steps.insert(0, (batch[0][0].key, type(batch[0][0]).apply_batch(batch)))
    report.output = run_steps(conn, steps)
    return report


def assert_idempotent(conn: Connection, resources: Sequence[Resource]) -> None:
    states = probe(conn, resources)
    assert {r.key: r.diff(s) for r, s in zip(resources, states, strict=True)} == {r.key: [] for r in resources}


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host(docker_hosts_module):
    """One Debian host shared by the module: every test works under its own unique names."""
    return docker_hosts_module(1, layers=("app",))


@pytest.fixture
def conn(host):
    name = host.names[0]
    with Connection(resolve_target(host.stack, host.host(name), environ={})) as connection:
        yield connection


@pytest.fixture
def sh(host):
    """``sh(script)``: run a shell script in the host's container (outside SSH); returns the process."""
    name = host.names[0]

    def run(script: str, check: bool = True):
        return host.exec(name, "sh", "-c", script, check=check)

    return run


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def ctx(tmp_path: Path) -> CompileContext:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(tmp_path / "templates")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return CompileContext(
        cookbook_name="cb", cookbook_path=tmp_path, recipe_path=tmp_path / "recipes" / "default.py",
        render_template=lambda source, variables: env.get_template(source).render(**variables),
        read_file=lambda source: (tmp_path / "files" / source).read_bytes(),
    )


def assert_not_pwned(sh) -> None:
    for path in PWNED:
        assert sh(f"test -e {path}", check=False).returncode == 1, f"{path} exists: something was executed"


# -- file, directory, template, link ----------------------------------------------------


def test_file_with_hostile_path_and_content(conn, sh) -> None:
    root = f"/tmp/{unique('d')}"
    path = f"{root}/{HOSTILE}/f {HOSTILE}"  # the '/' of "/tmp/pwned" make directories too
    top = posixpath.dirname(path)
    content = f"{HOSTILE}\nline two\n"
    resources = [Directory(top, mode="0750"), File(path, content=content, owner="deploy", group="root", mode=0o640)]
    report = converge(conn, resources)
    assert report.changes[resources[0].key] == [Change("create")]
    (change,) = report.changes[resources[1].key]
    assert change.summary == "create" and f"+{HOSTILE}" in (change.diff or "")
    q = shlex.quote(path)
    assert sh(f"cat {q}").stdout == content
    assert sh(f"stat -c '%a %U %G' {q}").stdout.split() == ["640", "deploy", "root"]
    assert sh(f"stat -c %a {shlex.quote(top)}").stdout.strip() == "750"
    assert sh(f"ls -A {shlex.quote(top)}").stdout.strip() == posixpath.basename(path)  # no temp file left
    assert_idempotent(conn, resources)
    assert_not_pwned(sh)

    changed = File(path, content="new\n", mode="0600")
    report = converge(conn, [changed])
    summaries = [c.summary for c in report.changes[changed.key]]
    assert summaries == ["update content", "mode 0640 -> 0600"]
    assert report.changes[changed.key][0].diff.splitlines()[2:] == ["@@ -1,2 +1 @@", f"-{HOSTILE}", "-line two",
                                                                    "+new"]
    assert sh(f"stat -c '%a %U' {q}").stdout.split() == ["600", "deploy"]  # the owner was kept

    gone = [File(path, action="delete"), Directory(root, action="delete")]
    assert converge(conn, gone).changed == [r.key for r in gone]
    assert sh(f"test -e {root}", check=False).returncode == 1
    assert_idempotent(conn, gone)
    assert_not_pwned(sh)


def test_file_sensitive_touch_and_missing_parent(conn, sh) -> None:
    top = f"/tmp/{unique('s')}"
    secret = File(f"{top}/secret", content="s3cr3t\n", sensitive=True)
    touched = File(f"{top}/touched", mode="0604")
    converge(conn, [Directory(top), secret, touched])
    assert sh(f"cat {top}/secret").stdout == "s3cr3t\n"
    assert sh(f"stat -c '%a %s' {top}/touched").stdout.split() == ["604", "0"]
    assert "content=" not in conn.run(secret.probe()).text  # a sensitive file never travels back
    changed = File(f"{top}/secret", content="other\n", sensitive=True)
    assert converge(conn, [changed]).changes[changed.key] == [Change("content changed (sensitive)")]
    assert_idempotent(conn, [changed, touched])

    orphan = File(f"{top}/no/such/dir/file", content="x")
    with pytest.raises(StepFailed, match=f"parent directory {top}/no/such/dir does not exist"):
        converge(conn, [orphan])
    assert sh(f"test -e {top}/no", check=False).returncode == 1


def test_file_binary_content_from_cookbook_files(conn, sh, tmp_path) -> None:
    (tmp_path / "files").mkdir()
    blob = bytes(range(256)) * 300  # binary and bigger than the diff limit
    (tmp_path / "files" / "blob.bin").write_bytes(blob)
    path = f"/tmp/{unique('b')}.bin"
    resource = File(path, source="blob.bin")
    resource.prepare(ctx(tmp_path))
    report = converge(conn, [resource])
    assert report.changes[resource.key][0].summary == "create"
    assert sh(f"sha256sum {path}").stdout.split()[0] == __import__("hashlib").sha256(blob).hexdigest()
    assert "content=" not in conn.run(resource.probe()).text
    assert_idempotent(conn, [resource])


def test_template_renders_and_converges(conn, sh, tmp_path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "app.env.j2").write_text("{% for k, v in env.items() %}{{ k }}={{ v }}\n{% endfor %}")
    path = f"/tmp/{unique('t')}.env"
    first = Template(path, source="app.env.j2", variables={"env": {"A": "1", "B": HOSTILE}}, mode="0644")
    first.prepare(ctx(tmp_path))
    assert converge(conn, [first]).changed == [first.key]
    assert sh(f"cat {path}").stdout == f"A=1\nB={HOSTILE}\n"
    assert_idempotent(conn, [first])
    second = Template(path, source="app.env.j2", variables={"env": {"A": "2"}})
    second.prepare(ctx(tmp_path))
    (change,) = converge(conn, [second]).changes[second.key]
    assert change.diff.splitlines()[3:] == ["-A=1", f"-B={HOSTILE}", "+A=2"]
    assert sh(f"cat {path}").stdout == "A=2\n"
    assert_not_pwned(sh)


def test_directory_recursive_owner_and_delete(conn, sh) -> None:
    top = f"/tmp/{unique('dir')}"
    deep = Directory(f"{top}/a/b/c", owner="deploy", group="deploy", mode="2770")
    assert converge(conn, [deep]).changes[deep.key] == [Change("create")]
    assert sh(f"stat -c '%a %U %G' {top}/a/b/c").stdout.split() == ["2770", "deploy", "deploy"]
    assert_idempotent(conn, [deep])
    chmod = Directory(f"{top}/a/b/c", mode="0755")
    assert converge(conn, [chmod]).changes[chmod.key] == [Change("mode 2770 -> 0755")]
    flat = Directory(f"{top}/x/y", recursive=False)
    with pytest.raises(StepFailed, match="parent directory"):
        converge(conn, [flat])
    sh(f"touch {top}/a/b/c/file")
    not_recursive = Directory(f"{top}/a", action="delete", recursive=False)
    with pytest.raises(StepFailed):
        converge(conn, [not_recursive])  # rmdir refuses a non-empty directory
    gone = Directory(top, action="delete")
    converge(conn, [gone])
    assert sh(f"test -e {top}", check=False).returncode == 1
    assert_idempotent(conn, [gone])


def test_link_create_switch_and_delete(conn, sh) -> None:
    top = f"/tmp/{unique('l')} {HOSTILE.replace('/', '|')}"
    q = shlex.quote
    sh(f"mkdir -p {q(top)}/r1 {q(top)}/r2")
    current = f"{top}/current"
    first = Link(current, to=f"{top}/r1")
    assert converge(conn, [first]).changes[first.key] == [Change(f"create -> {top}/r1")]
    assert sh(f"readlink {q(current)}").stdout.strip() == f"{top}/r1"
    assert_idempotent(conn, [first])
    switched = Link(current, to="r2")  # relative target, switched atomically over the old link
    assert converge(conn, [switched]).changes[switched.key] == [Change(f"to {top}/r1 -> r2")]
    assert sh(f"readlink {q(current)}").stdout.strip() == "r2"
    assert sorted(sh(f"ls -A {q(top)}").stdout.split("\n")) == ["", "current", "r1", "r2"]  # no temp left
    assert_idempotent(conn, [switched])
    gone = Link(current, action="delete")
    converge(conn, [gone])
    assert sh(f"test -L {q(current)}", check=False).returncode == 1
    assert sh(f"test -d {q(top)}/r2").returncode == 0  # the target stays
    assert_not_pwned(sh)


# -- execute -----------------------------------------------------------------------------


def test_execute_creates_user_cwd_environment_and_returns(conn, sh) -> None:
    top = f"/tmp/{unique('x')}"
    sh(f"mkdir -p {top} && chown deploy {top}")
    command = 'printf "%s|%s|%s" "$(id -un)" "$(pwd)" "$GREETING" > out; echo ran'
    once = Execute(command, cwd=top, user="deploy", environment={"GREETING": HOSTILE}, creates=f"{top}/out")
    report = converge(conn, [once])
    assert report.changes[once.key] == [Change("run")] and report.output[once.key] == "ran\n"
    assert sh(f"cat {top}/out").stdout == f"deploy|{top}|{HOSTILE}"
    assert_idempotent(conn, [once])  # `creates` exists now
    assert "@@unchanged" in run_steps(conn, [(once.key, once.action_step("run"))])[once.key]

    always = Execute(f"echo tick >> {top}/ticks")
    converge(conn, [always])
    converge(conn, [always])
    assert sh(f"cat {top}/ticks").stdout == "tick\ntick\n"  # no guard: runs every time, like Chef

    notified_only = Execute(f"echo notified >> {top}/n", action="nothing")
    assert converge(conn, [notified_only]).changed == []
    run_steps(conn, [(notified_only.key, notified_only.action_step("run"))])
    assert sh(f"cat {top}/n").stdout == "notified\n"

    converge(conn, [Execute("exit 3", returns=[0, 3])])
    with pytest.raises(StepFailed, match="exited with status 4, expected 0 or 3"):
        converge(conn, [Execute("echo boom; exit 4", returns=(0, 3))])
    assert_not_pwned(sh)


# -- package -------------------------------------------------------------------------------


def test_packages_install_in_one_batch_and_remove(conn, sh) -> None:
    tree, sl = Package("tree"), Package(["sl"])
    report = converge(conn, [tree, sl])
    assert report.changes[tree.key] == [Change("install tree")]
    assert report.changes[sl.key] == [Change("install sl")]
    assert len(report.output) == 1  # one step, one apt-get install for both
    for name in ("tree", "sl"):
        status = sh(f"dpkg-query -W -f '${{Status}}' {name}").stdout
        assert status == "install ok installed"
    assert_idempotent(conn, [tree, sl, Package("tree", action="upgrade")])

    gone = Package(["tree", "sl"], action="remove")
    assert [c.summary.split()[:2] for c in converge(conn, [gone]).changes[gone.key]] == [
        ["remove", "tree"], ["remove", "sl"]]
    for name in ("tree", "sl"):
        out = sh(f"dpkg-query -W -f '${{Status}}' {name}", check=False).stdout
        assert "installed" not in out.split()[-1:]
    assert_idempotent(conn, [gone])


def test_package_probe_answers_from_its_cache_until_dpkg_changes(conn, sh) -> None:
    """A no-op probe reads the cached answer; a change made outside runner is seen at once."""
    tree = Package("tree")
    sh(f"rm -rf {DPKG_CACHE}")  # the host's earlier tests left answers to other queries
    converge(conn, [tree])
    assert_idempotent(conn, [tree])  # the probe after the install queried dpkg and filled the cache
    keys = sh(f"ls {DPKG_CACHE} | grep -v '^status[.]'").stdout.split()
    assert len(keys) == 1
    first = sh(f"cat {DPKG_CACHE}/{keys[0]}").stdout.splitlines()
    assert first[1].startswith("pkg tree install ok installed ")
    sh(f"[ /var/lib/dpkg/status -ef {DPKG_CACHE}/status.{first[0]} ]")  # the link is dpkg's file itself

    sh("DEBIAN_FRONTEND=noninteractive apt-get remove -y tree >/dev/null 2>&1")  # dpkg replaced its status
    assert converge(conn, [tree]).changes[tree.key] == [Change("install tree")]
    assert_idempotent(conn, [tree])
    links = sh(f"ls {DPKG_CACHE} | grep '^status[.]'").stdout.split()
    assert len(links) == 1  # the links to dpkg's earlier files are gone with their answers

    sh(f"rm -rf {DPKG_CACHE} && touch {DPKG_CACHE}")  # no cache can be kept: every probe asks dpkg
    try:
        assert_idempotent(conn, [tree])
        sh("DEBIAN_FRONTEND=noninteractive apt-get remove -y tree >/dev/null 2>&1")
        assert converge(conn, [tree]).changes[tree.key] == [Change("install tree")]
    finally:
        sh(f"rm -f {DPKG_CACHE}")
    converge(conn, [Package("tree", action="remove")])


def test_unknown_package_fails_with_apts_message(conn) -> None:
    missing = Package("no-such-package-runner-test")
    with pytest.raises(StepFailed, match="Unable to locate package no-such-package-runner-test"):
        converge(conn, [missing])


# -- service (the plain supervisor: the host has no init system) -----------------------------

UNIT = """\
[Unit]
Description=demo for runner's tests

[Service]
Environment="GREETING=hello there" PORT={port}
EnvironmentFile=-/etc/default/{name}
User=deploy
WorkingDirectory=/tmp
ExecStart=/usr/bin/python3 -m http.server ${{PORT}} --bind 127.0.0.1
Restart=always

[Install]
WantedBy=multi-user.target
"""

LISTENING = """\
import sys, urllib.request
try:
    urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=2)
except OSError:
    sys.exit(1)
"""


def wait_for(sh, script: str, expect: int) -> None:
    """Poll ``script`` on the host (at most about 10 s) until it exits with ``expect``."""
    sh(f"i=0; while [ $i -lt 100 ]; do {script}; rc=$?; [ $rc -eq {expect} ] && exit 0; sleep 0.1; "
       "i=$((i+1)); done; exit 1")


def test_service_under_the_plain_supervisor(conn, sh) -> None:
    name, port = unique("demo-svc-"), 8099
    unit = File(f"/etc/systemd/system/{name}.service", content=UNIT.format(port=port, name=name))
    service = Service(name)
    report = converge(conn, [unit, service])
    assert report.changes[service.key] == [Change("enable"), Change("start")]
    probe_url = f"python3 -c {shlex.quote(LISTENING)} {port}"
    wait_for(sh, probe_url, 0)
    pid = sh(f"cat /run/runner/{name}.child").stdout.strip()
    assert sh(f"stat -c %U /proc/{pid}").stdout.strip() == "deploy"
    environ = sh(f"runuser -u deploy -- cat /proc/{pid}/environ").stdout.split("\0")  # not root's to read
    assert "GREETING=hello there" in environ and f"PORT={port}" in environ
    assert sh(f"test -e /etc/runner/enabled/{name}").returncode == 0
    assert_idempotent(conn, [unit, service])

    run_steps(conn, [(service.key, service.action_step("restart"))])
    wait_for(sh, probe_url, 0)
    assert sh(f"cat /run/runner/{name}.child").stdout.strip() != pid

    killed = sh(f"cat /run/runner/{name}.child").stdout.strip()
    sh(f"kill {killed}")  # the supervisor brings it back
    wait_for(sh, f"[ \"$(cat /run/runner/{name}.child)\" != {killed} ] && {probe_url}", 0)

    stopped = Service(name, action=["stop", "disable"])
    assert converge(conn, [stopped]).changes[stopped.key] == [Change("stop"), Change("disable")]
    wait_for(sh, probe_url, 1)
    assert sh(f"test -e /run/runner/{name}.pid", check=False).returncode == 1
    assert sh(f"test -e /etc/runner/enabled/{name}", check=False).returncode == 1
    assert_idempotent(conn, [stopped])
    assert "started" in sh(f"cat /var/log/runner/{name}.log").stdout


def test_service_without_unit_file_fails_clearly(conn) -> None:
    service = Service(unique("nosuch"), action="start")
    with pytest.raises(StepFailed, match="no unit file"):
        converge(conn, [service])


# -- user and group ----------------------------------------------------------------------------


def test_users_and_group_with_exact_members(conn, sh) -> None:
    alice, bob, team = unique("al"), unique("bo"), unique("team")
    users = [User(alice, shell="/bin/bash", comment="Alice A"), User(bob, uid=4321, system=True)]
    group = Group(team, gid=4567, members=[alice, bob])
    report = converge(conn, [*users, group])
    assert report.changed == [u.key for u in users] + [group.key]
    passwd = sh(f"getent passwd {alice}").stdout.strip().split(":")
    assert passwd[4:] == ["Alice A", f"/home/{alice}", "/bin/bash"]
    assert sh(f"test -d /home/{alice}").returncode == 0
    assert sh(f"getent passwd {bob}").stdout.split(":")[2] == "4321"
    assert sh(f"getent group {team}").stdout.strip() == f"{team}:x:4567:{alice},{bob}"
    assert_idempotent(conn, [*users, group])

    fewer = Group(team, members=[bob])
    changed_user = User(alice, shell="/bin/sh", gid=team)
    report = converge(conn, [fewer, changed_user])
    assert report.changes[fewer.key] == [Change(f"members {alice}, {bob} -> {bob}")]
    assert [c.summary.split()[0] for c in report.changes[changed_user.key]] == ["gid", "shell"]
    assert sh(f"getent group {team}").stdout.strip() == f"{team}:x:4567:{bob}"
    assert sh(f"id -gn {alice}").stdout.strip() == team
    assert_idempotent(conn, [fewer, changed_user])

    gone = [User(alice, action="remove"), User(bob, action="remove"), Group(team, action="remove")]
    converge(conn, gone)
    for what, name in (("passwd", alice), ("passwd", bob), ("group", team)):
        assert sh(f"getent {what} {name}", check=False).returncode == 2
    assert_idempotent(conn, gone)
