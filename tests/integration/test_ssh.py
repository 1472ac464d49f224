"""The SSH transport against real sshd in Docker containers."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shlex

import pytest

from runner.errors import HostError
from runner.ssh.connection import Connection
from runner.ssh.group import HostGroup
from runner.ssh.target import SshTarget, resolve_target

HOSTILE = "a b 'quoted' \"dq\" $(touch /tmp/pwned) `touch /tmp/pwned2`; touch /tmp/pwned3 & | \\ * ~ \n newline"


def _target(hosts, name: str, **changes) -> SshTarget:
    target = resolve_target(hosts.stack, hosts.host(name), environ={})
    return dataclasses.replace(target, **changes)


@pytest.fixture(scope="module")
def two_hosts(docker_hosts_module):
    """Two hosts shared by the tests of this module that leave them as they were (starting hosts costs seconds)."""
    return docker_hosts_module(2, layers=("app",))


def test_run_on_each_host_over_one_connection(two_hosts) -> None:
    targets = [_target(two_hosts, n) for n in two_hosts.names]
    with HostGroup(targets) as group:
        first = group.run("hostname")
        second = group.run("echo $((6 * 7))")
        assert first.ok and second.ok
        for name in two_hosts.names:
            assert first.succeeded[name].text.strip() == two_hosts.stack.instances[name].hostname
            assert second.succeeded[name].text == "42\n"
            conn = group.connections[name]
            assert conn.commands_run == 2  # both commands over the one connection opened


def test_exit_status_and_stderr_are_returned(two_hosts) -> None:
    with Connection(_target(two_hosts, two_hosts.names[0])) as conn:
        result = conn.run("echo out; echo err >&2; exit 3")
    assert (result.exit_status, result.stdout, result.stderr) == (3, b"out\n", b"err\n")


def test_stdin_is_streamed(two_hosts) -> None:
    payload = os.urandom(5 * 1024 * 1024 + 17)
    with Connection(_target(two_hosts, two_hosts.names[0])) as conn:
        result = conn.run("sha256sum", stdin=payload)
        assert result.text.split()[0] == hashlib.sha256(payload).hexdigest()
        chunks = (bytes([i]) * 100_000 for i in range(50))  # an iterator, never all in memory at once
        result = conn.run("wc -c", stdin=chunks)
        assert result.text.strip() == "5000000"


def test_hostile_strings_travel_literally(two_hosts) -> None:
    name = two_hosts.names[0]
    with Connection(_target(two_hosts, name)) as conn:
        result = conn.run(f"printf %s {shlex.quote(HOSTILE)}")
        assert result.stdout.decode() == HOSTILE
        path = "/tmp/" + "we ird;$(x)`y`'\"name"
        conn.run(f"cat > {shlex.quote(path)}", stdin=HOSTILE)
    assert two_hosts.exec(name, "cat", path).stdout == HOSTILE
    for leftover in ("/tmp/pwned", "/tmp/pwned2", "/tmp/pwned3"):
        assert two_hosts.exec(name, "test", "-e", leftover, check=False).returncode == 1


def test_command_timeout_is_a_host_error(two_hosts) -> None:
    with Connection(_target(two_hosts, two_hosts.names[0])) as conn:
        with pytest.raises(HostError) as exc:
            conn.run("sleep 20", timeout=1)
    assert exc.value.cause == "timeout" and "timed out after 1 s" in str(exc.value)


def test_sudo_for_a_passwordless_user(two_hosts) -> None:
    target = _target(two_hosts, two_hosts.names[0], user="deploy", sudo=True)
    with Connection(target) as conn:
        assert conn.run("id -un").text == "root\n"
        assert conn.run("id -un", sudo=False).text == "deploy\n"
        assert conn.run("cat", stdin=HOSTILE).stdout.decode() == HOSTILE


def test_sudo_that_wants_a_password_fails_clearly_and_fast(two_hosts) -> None:
    target = _target(two_hosts, two_hosts.names[0], user="pwuser", sudo=True, command_timeout=20)
    with Connection(target) as conn:
        with pytest.raises(HostError) as exc:
            conn.run("id -un")
    assert exc.value.cause == "sudo"
    assert "sudo asks for a password and none is configured" in str(exc.value)


def test_sudo_with_a_configured_password(two_hosts) -> None:
    target = _target(two_hosts, two_hosts.names[0], user="pwuser", sudo=True, sudo_password="pwuser-secret")
    with Connection(target) as conn:
        assert conn.run("id -un").text == "root\n"
        assert conn.run("cat", stdin=HOSTILE).stdout.decode() == HOSTILE  # the password line is not in stdin
    wrong = dataclasses.replace(target, sudo_password="wrong")
    with Connection(wrong) as conn, pytest.raises(HostError) as exc:
        conn.run("true")
    assert exc.value.cause == "sudo" and "refused the configured password" in str(exc.value)


def test_wrong_key_is_an_auth_error(two_hosts, tmp_path) -> None:
    import paramiko

    other = tmp_path / "other_key"
    paramiko.RSAKey.generate(2048).write_private_key_file(str(other))
    target = _target(two_hosts, two_hosts.names[0], key_files=(other,), use_agent=False)
    with pytest.raises(HostError) as exc:
        Connection(target).open()
    assert exc.value.cause == "auth", str(exc.value)


def test_strict_refuses_a_changed_host_key(docker_hosts) -> None:
    hosts = docker_hosts(1)
    name = hosts.names[0]
    known = hosts.stack.known_hosts_path
    original = known.read_text()
    # replace the host's recorded key with another host's key: a man in the middle, as far as we can tell
    import paramiko

    forged = paramiko.RSAKey.generate(2048)
    target = _target(hosts, name)
    known.write_text(f"{target.known_hosts_name} {forged.get_name()} {forged.get_base64()}\n")
    with pytest.raises(HostError) as exc:
        Connection(target).open()
    assert exc.value.cause == "host-key-changed"
    assert "host key changed" in str(exc.value) and "ssh-keygen -R" in str(exc.value)
    # accept-new refuses a changed key too
    with pytest.raises(HostError) as exc:
        Connection(dataclasses.replace(target, host_key_policy="accept-new")).open()
    assert exc.value.cause == "host-key-changed"
    known.write_text(original)
    with Connection(target) as conn:
        assert conn.run("true").ok


def test_strict_refuses_an_unknown_host_and_accept_new_records_it(docker_hosts) -> None:
    hosts = docker_hosts(1)
    name = hosts.names[0]
    known = hosts.stack.known_hosts_path
    recorded = known.read_text()
    known.write_text("")
    target = _target(hosts, name)
    with pytest.raises(HostError) as exc:
        Connection(target).open()
    assert exc.value.cause == "host-key-unknown" and "accept-new" in str(exc.value)

    with Connection(dataclasses.replace(target, host_key_policy="accept-new")) as conn:
        assert conn.run("true").ok
    line = known.read_text().strip()
    assert line.startswith(f"{target.known_hosts_name} ssh-ed25519 ")
    container_key = hosts.exec(name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[1]
    assert line.split()[2] == container_key
    assert container_key in recorded  # the provider had recorded the same key
    with Connection(target) as conn:  # now strict accepts it
        assert conn.run("true").ok


def test_a_stopped_host_is_reported_while_the_others_succeed(docker_hosts) -> None:
    hosts = docker_hosts(3)
    targets = [_target(hosts, n, connect_timeout=5) for n in hosts.names]
    hosts.stop(hosts.names[1])
    with HostGroup(targets) as group:
        result = group.run("hostname")
    assert sorted(result.succeeded) == [hosts.names[0], hosts.names[2]]
    assert list(result.failed) == [hosts.names[1]]
    error = result.failed[hosts.names[1]]
    assert error.host == hosts.names[1] and error.cause in ("refused", "timeout", "ssh")
    assert "127.0.0.1" in str(error)
