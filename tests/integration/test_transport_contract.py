"""What every SSH transport must do, against real sshd in Docker containers: paramiko and openssh alike.

The same commands, errors and causes on both (see test_ssh.py for paramiko's own), then what each
does to stay warm: openssh's shared masters (sockets, reuse, expiry, stale sockets, ProxyJump), and
the process-wide pool both go back to (no open channel kept, no dead or re-keyed connection reused).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import paramiko
import pytest

from runner.errors import HostError, UserError
from runner.ssh import pool
from runner.ssh.api import Transport, connection_for
from runner.ssh.group import HostGroup
from runner.ssh.openssh import CONTROL_DIR_ENV, OpenSshConnection, control_dir, master_running
from runner.ssh.target import SshTarget, resolve_target

HOSTILE = "a b 'quoted' \"dq\" $(touch /tmp/pwned) `touch /tmp/pwned2`; touch /tmp/pwned3 & | \\ * ~ \n newline"
TRANSPORTS = ("paramiko", "openssh")
FLOCK_FREE = "flock -n /tmp/contract.lock true && echo free || echo held"


@pytest.fixture(autouse=True)
def sockets(monkeypatch) -> Path:
    """A control socket directory of this test's own (short: socket names must fit), empty again after it."""
    directory = Path(tempfile.mkdtemp(prefix="rs-", dir="/tmp"))
    monkeypatch.setenv(CONTROL_DIR_ENV, str(directory / "c"))
    yield directory / "c"
    pool.close_all()
    for sock in (directory / "c").glob("*") if (directory / "c").is_dir() else []:  # masters of this test
        subprocess.run(["ssh", "-F", "/dev/null", "-o", f"ControlPath={sock}", "-O", "exit", "x"],
                       capture_output=True, timeout=30)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def two_hosts(docker_hosts_module):
    return docker_hosts_module(2, layers=("app",))


@pytest.fixture(params=TRANSPORTS)
def transport(request) -> str:
    return request.param


def _target(hosts, name: str, transport: str, **changes) -> SshTarget:
    target = resolve_target(hosts.stack, hosts.host(name), environ={})
    return dataclasses.replace(target, transport=transport, **changes)


def _masters(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if stat.S_ISSOCK(p.lstat().st_mode)] if directory.is_dir() else []


def _master_pid(control: Path) -> int:
    """The pid of the master at the socket ``control``, as ``ssh -O check`` tells it."""
    check = subprocess.run(["ssh", "-F", "/dev/null", "-o", f"ControlPath={control}", "-O", "check", "x"],
                           capture_output=True, text=True, timeout=30)
    return int(re.search(r"pid=(\d+)", check.stderr + check.stdout).group(1))


def _wait(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


# -- the contract: the same on every transport ------------------------------------------------------


def test_commands_over_one_connection(two_hosts, transport) -> None:
    targets = [_target(two_hosts, n, transport) for n in two_hosts.names]
    with HostGroup(targets) as group:
        first = group.run("hostname")
        second = group.run("echo out; echo err >&2; exit 3")
        for name in two_hosts.names:
            assert first.succeeded[name].text.strip() == two_hosts.stack.instances[name].hostname
            result = second.succeeded[name]
            assert (result.exit_status, result.stdout, result.stderr) == (3, b"out\n", b"err\n")
            conn = group.connections[name]
            assert isinstance(conn, Transport) and conn.name == transport
            assert conn.commands_run >= 2


def test_a_remote_exit_status_of_255_is_a_result(two_hosts, transport) -> None:
    with connection_for(_target(two_hosts, two_hosts.names[0], transport)) as conn:
        result = conn.run("echo bye >&2; exit 255")
        assert (result.exit_status, result.stderr) == (255, b"bye\n")
        assert conn.run("true").ok


def test_stdin_is_streamed(two_hosts, transport) -> None:
    payload = os.urandom(5 * 1024 * 1024 + 17)
    with connection_for(_target(two_hosts, two_hosts.names[0], transport)) as conn:
        result = conn.run("sha256sum", stdin=payload)
        assert result.text.split()[0] == hashlib.sha256(payload).hexdigest()
        chunks = (bytes([i]) * 100_000 for i in range(50))
        assert conn.run("wc -c", stdin=chunks).text.strip() == "5000000"


def test_hostile_strings_travel_literally(two_hosts, transport) -> None:
    name = two_hosts.names[0]
    with connection_for(_target(two_hosts, name, transport)) as conn:
        assert conn.run(f"printf %s {shlex.quote(HOSTILE)}").stdout.decode() == HOSTILE
        path = f"/tmp/{transport} we ird;$(x)`y`'\"name"
        conn.run(f"cat > {shlex.quote(path)}", stdin=HOSTILE)
    assert two_hosts.exec(name, "cat", path).stdout == HOSTILE
    for leftover in ("/tmp/pwned", "/tmp/pwned2", "/tmp/pwned3"):
        assert two_hosts.exec(name, "test", "-e", leftover, check=False).returncode == 1


def test_command_timeout_is_a_host_error(two_hosts, transport) -> None:
    with connection_for(_target(two_hosts, two_hosts.names[0], transport)) as conn:
        with pytest.raises(HostError) as exc:
            conn.run("sleep 20", timeout=1)
        assert exc.value.cause == "timeout" and "timed out after 1 s" in str(exc.value)
        assert conn.run("echo still").text == "still\n"  # the connection outlives the timed-out command


def test_sudo(two_hosts, transport) -> None:
    name = two_hosts.names[0]
    with connection_for(_target(two_hosts, name, transport, user="deploy", sudo=True)) as conn:
        assert conn.run("id -un").text == "root\n"
        assert conn.run("id -un", sudo=False).text == "deploy\n"
        assert conn.run("cat", stdin=HOSTILE).stdout.decode() == HOSTILE
    wants = _target(two_hosts, name, transport, user="pwuser", sudo=True, command_timeout=20)
    with connection_for(wants) as conn, pytest.raises(HostError) as exc:
        conn.run("id -un")
    assert exc.value.cause == "sudo" and "sudo asks for a password and none is configured" in str(exc.value)
    given = dataclasses.replace(wants, sudo_password="pwuser-secret")
    with connection_for(given) as conn:
        assert conn.run("id -un").text == "root\n"
        assert conn.run("cat", stdin=HOSTILE).stdout.decode() == HOSTILE
    with connection_for(dataclasses.replace(given, sudo_password="wrong")) as conn, pytest.raises(HostError) as exc:
        conn.run("true")
    assert exc.value.cause == "sudo" and "refused the configured password" in str(exc.value)


def test_wrong_key_is_an_auth_error(two_hosts, transport, tmp_path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True, timeout=30)
    target = _target(two_hosts, two_hosts.names[0], transport, key_files=(other,), use_agent=False)
    with pytest.raises(HostError) as exc:
        connection_for(target).open()
    assert exc.value.cause == "auth" and "authentication failed" in str(exc.value)


def test_a_closed_port_is_refused(two_hosts, transport) -> None:
    with socket_port() as port:
        target = _target(two_hosts, two_hosts.names[0], transport, port=port, connect_timeout=5)
    with pytest.raises(HostError) as exc:
        connection_for(target).open()
    assert exc.value.cause == "refused" and str(exc.value).endswith(f"connection refused at 127.0.0.1:{port}")


def test_a_peer_that_sends_no_banner(two_hosts, transport) -> None:
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    try:
        target = _target(two_hosts, two_hosts.names[0], transport, port=server.getsockname()[1], connect_timeout=2)
        with pytest.raises(HostError) as exc:
            connection_for(target).open()
        assert exc.value.cause == "banner" and "no SSH banner" in str(exc.value)
    finally:
        for sock in (*held, server):
            sock.close()


class socket_port:
    """A port on 127.0.0.1 nothing listens on (bound, then let go)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_unknown_and_changed_host_keys(docker_hosts, transport) -> None:
    hosts = docker_hosts(1)
    name = hosts.names[0]
    known = hosts.stack.known_hosts_path
    recorded = known.read_text()
    target = _target(hosts, name, transport)
    known.write_text("")
    with pytest.raises(HostError) as exc:
        connection_for(target).open()
    assert exc.value.cause == "host-key-unknown" and "accept-new" in str(exc.value)
    with connection_for(dataclasses.replace(target, host_key_policy="accept-new")) as conn:
        assert conn.run("true").ok
    container_key = hosts.exec(name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[1]
    assert known.read_text().split()[:3] == [target.known_hosts_name, "ssh-ed25519", container_key]
    with connection_for(target) as conn:
        assert conn.run("true").ok

    forged = paramiko.RSAKey.generate(2048)
    known.write_text(f"{target.known_hosts_name} {forged.get_name()} {forged.get_base64()}\n")
    for policy in ("strict", "accept-new"):
        with pytest.raises(HostError) as exc:
            connection_for(dataclasses.replace(target, host_key_policy=policy)).open()
        assert exc.value.cause == "host-key-changed", str(exc.value)
        assert "host key changed" in str(exc.value) and "ssh-keygen -R" in str(exc.value)
    known.write_text(recorded)
    with connection_for(target) as conn:
        assert conn.run("true").ok


def test_a_changed_host_key_is_refused_even_with_a_warm_connection(docker_hosts, transport) -> None:
    hosts = docker_hosts(1)
    target = _target(hosts, hosts.names[0], transport)
    known = hosts.stack.known_hosts_path
    recorded = known.read_text()
    with HostGroup([target]) as group:
        assert group.run("true").ok
    assert pool.stats()["idle"] == 1  # warm, in the pool
    forged = paramiko.RSAKey.generate(2048)
    known.write_text(f"{target.known_hosts_name} {forged.get_name()} {forged.get_base64()}\n")
    with HostGroup([target]) as group:
        result = group.run("true")
    assert result.failed[target.name].cause == "host-key-changed"
    known.write_text(recorded)


def test_hold_keeps_a_lock_until_its_handle_closes(two_hosts, transport) -> None:
    name = two_hosts.names[0]
    with connection_for(_target(two_hosts, name, transport)) as conn:
        line, handle = conn.hold("exec 9>>/tmp/contract.lock; flock -n 9 && echo LOCKED; exec cat >/dev/null")
        assert line == "LOCKED"
        assert two_hosts.exec(name, "sh", "-c", FLOCK_FREE).stdout.strip() == "held"
        handle.close()
        assert _wait(lambda: two_hosts.exec(name, "sh", "-c", FLOCK_FREE).stdout.strip() == "free")


def test_hold_returns_the_line_of_a_command_that_ended_before_reading_what_was_sent(two_hosts, transport) -> None:
    """A lock refused at once (a planted link, a busy host) says why, however much of its stdin it never read."""
    with connection_for(_target(two_hosts, two_hosts.names[0], transport)) as conn:
        for _ in range(3):  # the race between the send and the command's end goes both ways: try it more than once
            line, handle = conn.hold("echo 'refused: it is a symlink'; exit 1", send=b"x" * (4 << 20))
            handle.close()
            assert line == "refused: it is a symlink"
        assert conn.run("true").ok  # and the connection is still good


# -- warm connections: the pool --------------------------------------------------------------------------


def test_the_pool_reuses_a_connection_with_its_holds_closed(two_hosts, transport) -> None:
    name = two_hosts.names[0]
    target = _target(two_hosts, name, transport)
    with HostGroup([target]) as group:
        conn = group.connect(name)
        line, _ = conn.hold("exec 9>>/tmp/contract.lock; flock -n 9 && echo LOCKED; exec cat >/dev/null")
        assert line == "LOCKED"
    # released with the group: the lock went, the connection stayed warm
    assert _wait(lambda: two_hosts.exec(name, "sh", "-c", FLOCK_FREE).stdout.strip() == "free")
    assert conn.commands_run == 1
    with HostGroup([target]) as group:
        assert group.run("true").ok
        # the same connection, its count started again for this run (a report counts its own commands)
        assert group.connections[name] is conn and conn.commands_run == 1


def test_an_aborted_group_pools_nothing(two_hosts, transport) -> None:
    target = _target(two_hosts, two_hosts.names[0], transport)
    group = HostGroup([target])
    assert group.run("true").ok
    group.abort()
    group.close()
    assert pool.stats()["idle"] == 0


def test_no_reuse_after_sshd_dropped_the_connections(docker_hosts, transport) -> None:
    hosts = docker_hosts(1)
    name = hosts.names[0]
    target = _target(hosts, name, transport)
    with HostGroup([target]) as group:
        assert group.run("true").ok
        first = group.connections[name]
    # what a restart of sshd does to the connections: every session's sshd goes (the listener stays)
    hosts.exec(name, "sh", "-c", "pkill -KILL -f 'sshd: [^/]*(@|priv)' || true")
    assert _wait(lambda: not first.alive())
    with HostGroup([target]) as group:
        assert group.run("true").ok
        assert group.connections[name] is not first


def test_paramiko_pool_within_one_process(two_hosts) -> None:
    """A converge then a deploy in one Session: the second HostGroup opens nothing."""
    targets = [_target(two_hosts, n, "paramiko") for n in two_hosts.names]
    with HostGroup(targets) as group:
        assert group.run("true").ok
        first = dict(group.connections)
    reused = pool.stats()["reused"]
    with HostGroup(targets) as group:
        assert group.run("true").ok
        assert all(group.connections[n] is first[n] for n in two_hosts.names)
    assert pool.stats()["reused"] == reused + 2


def test_persist_zero_closes_at_once(two_hosts) -> None:
    target = _target(two_hosts, two_hosts.names[0], "paramiko", persist=0)
    with HostGroup([target]) as group:
        assert group.run("true").ok
        conn = group.connections[target.name]
    assert pool.stats()["idle"] == 0 and not conn.alive()


# -- openssh: masters --------------------------------------------------------------------------------


def test_openssh_second_command_and_next_connection_reuse_the_master(two_hosts, sockets) -> None:
    target = _target(two_hosts, two_hosts.names[0], "openssh")
    first = OpenSshConnection(target).open()
    assert first.started_master and len(_masters(sockets)) == 1
    assert first.run("true").ok and first.run("true").ok
    assert master_running("ssh", first.control)
    again = OpenSshConnection(target).open()  # another run (another process would find the same socket)
    assert not again.started_master and again.control == first.control
    assert again.run("echo warm").text == "warm\n"
    assert len(_masters(sockets)) == 1
    assert stat.S_IMODE(sockets.stat().st_mode) == 0o700


def test_openssh_in_another_process_finds_the_master(two_hosts, sockets) -> None:
    target = _target(two_hosts, two_hosts.names[0], "openssh")
    first = OpenSshConnection(target).open()
    code = ("import sys, pickle; from runner.ssh.openssh import OpenSshConnection; "
            "c = OpenSshConnection(pickle.loads(sys.stdin.buffer.read())).open(); "
            "print(c.started_master, c.run('echo hi').text.strip())")
    import pickle
    import sys

    done = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(target), capture_output=True,
                          timeout=60, env={**os.environ, CONTROL_DIR_ENV: str(sockets)})
    assert done.stdout.decode().split() == ["False", "hi"], done.stderr.decode()
    assert _masters(sockets) == [first.control]


def _children() -> list[tuple[str, str]]:
    """This process's children: (pid, state)."""
    children = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            children.append((stat_file.parent.name, fields[0]))
    return children


def test_openssh_leaves_no_child_behind(two_hosts) -> None:
    conn = OpenSshConnection(_target(two_hosts, two_hosts.names[0], "openssh")).open()
    assert conn.run("true").ok
    assert _children() == []  # the master is nobody's child of ours, and nothing is left a zombie


def test_openssh_commands_start_no_ssh_process(two_hosts) -> None:
    """runner is the master's passenger itself (runner.ssh.mux): no ``ssh`` process runs while a command does."""
    conn = OpenSshConnection(_target(two_hosts, two_hosts.names[0], "openssh")).open()
    assert conn.passenger == "runner"
    line, handle = conn.hold("echo UP; exec cat >/dev/null")
    try:
        assert line == "UP" and _children() == []
    finally:
        handle.close()
    assert conn.run("exit 7").exit_status == 7


def test_openssh_with_ssh_passengers(two_hosts) -> None:
    """What a master of another mux protocol version gets: an ``ssh`` process per command, which works the same."""
    conn = OpenSshConnection(_target(two_hosts, two_hosts.names[0], "openssh")).open()
    conn.passenger = "ssh"
    result = conn.run("cat; echo err >&2; exit 3", stdin=b"in")
    assert (result.exit_status, result.stdout, result.stderr) == (3, b"in", b"err\n")
    line, handle = conn.hold("echo UP; exec cat >/dev/null")
    assert line == "UP" and len(_children()) == 1
    handle.close()
    assert _children() == []


def test_openssh_a_master_killed_under_a_command_is_a_lost_connection(two_hosts, sockets) -> None:
    target = _target(two_hosts, two_hosts.names[0], "openssh")
    conn = OpenSshConnection(target).open()
    pid = _master_pid(conn.control)
    killer = threading.Timer(1.0, os.kill, (pid, 9))
    killer.start()
    try:
        with pytest.raises(HostError) as exc:
            conn.run("sleep 20")
    finally:
        killer.join()
    assert exc.value.cause == "connection-lost", str(exc.value)
    assert conn.run("echo back").text == "back\n"  # over a fresh master, in place of the stale socket


def test_openssh_replaces_a_killed_masters_stale_socket(two_hosts, sockets) -> None:
    target = _target(two_hosts, two_hosts.names[0], "openssh")
    first = OpenSshConnection(target).open()
    pid = _master_pid(first.control)
    os.kill(pid, 9)
    assert _wait(lambda: not master_running("ssh", first.control))
    assert first.control.exists()  # a killed master leaves its socket
    fresh = OpenSshConnection(target).open()
    assert fresh.started_master and fresh.run("echo fresh").text == "fresh\n"


def test_openssh_master_goes_after_persist(two_hosts, sockets) -> None:
    conn = OpenSshConnection(_target(two_hosts, two_hosts.names[0], "openssh", persist=2)).open()
    assert conn.run("true").ok
    assert _wait(lambda: not _masters(sockets), seconds=60)
    assert list(sockets.iterdir()) == []  # nor a lock file


def test_openssh_socket_dir_is_repaired_or_refused(sockets) -> None:
    tmp_path = sockets.parent
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    assert control_dir({CONTROL_DIR_ENV: str(loose)}) == loose
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
    if os.getuid() == 0:
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, 12345, 12345)
        with pytest.raises(UserError, match="owned by uid 12345"):
            control_dir({CONTROL_DIR_ENV: str(theirs)})
    link = tmp_path / "link"
    link.symlink_to(loose)
    with pytest.raises(UserError, match="not a directory"):
        control_dir({CONTROL_DIR_ENV: str(link)})


def test_openssh_proxyjump_through_one_host_to_another(two_hosts, tmp_path) -> None:
    jump_name, inner_name = two_hosts.names
    jump = _target(two_hosts, jump_name, "openssh")
    inner_ip = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
         two_hosts.container(inner_name)], capture_output=True, text=True, timeout=30, check=True).stdout.split()[0]
    inner_key = two_hosts.exec(inner_name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub").stdout.split()
    known = tmp_path / "known_hosts"
    known.write_text(two_hosts.stack.known_hosts_path.read_text() + f"{inner_ip} {inner_key[0]} {inner_key[1]}\n")
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host jump\n  HostName 127.0.0.1\n  Port {jump.port}\n  User root\n"
        f"  IdentityFile {jump.key_files[0]}\n  IdentitiesOnly yes\n  BatchMode yes\n"
        f"  UserKnownHostsFile {known}\n  StrictHostKeyChecking yes\n"
        f"Host inner\n  HostName {inner_ip}\n  ProxyJump jump\n")
    target = dataclasses.replace(jump, name=inner_name, address=inner_ip, port=22, known_hosts=known,
                                 config_file=config, config_host="inner")
    with connection_for(target) as conn:
        assert conn.run("hostname").text.strip() == two_hosts.stack.instances[inner_name].hostname


def test_the_host_lock_over_each_transport(two_hosts, transport) -> None:
    """What a converge does: the probe in the command that takes the host lock, which it holds until released."""
    from runner.engine import hostlock
    from runner.engine.wire import LOCKED, run_script, run_script_locked

    name = two_hosts.names[0]
    busy = f"exec 9>>{hostlock.HOST_LOCK}; flock -n 9 && echo free || echo held"
    with connection_for(_target(two_hosts, name, transport)) as conn:
        line, result, handle = run_script_locked(conn, b"echo probed; echo oops >&2; exit 4",
                                                 hostlock.take_shell("contract test"), "end-token-1")
        assert line == LOCKED and result is not None and handle is not None
        assert (result.exit_status, result.stdout.strip()) == (4, b"probed")  # stderr is read on the side
        hostlock.keep(conn, handle)
        assert hostlock.held(conn)
        assert two_hosts.exec(name, "sh", "-c", busy).stdout.strip() == "held"
        assert run_script(conn, b"echo next").text == "next\n"  # other commands go on meanwhile
        hostlock.release(conn)
        assert not hostlock.held(conn)
        assert _wait(lambda: two_hosts.exec(name, "sh", "-c", busy).stdout.strip() == "free")
