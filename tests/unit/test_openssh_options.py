"""The openssh transport's pure parts: command lines, control socket names, what ssh's stderr means."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import os
from pathlib import Path

import pytest

from runner.ssh import openssh_options as opts
from runner.ssh.target import SshTarget

SOCK = Path("/run/user/1000/runner-ssh/abcdefghijklmnop")
KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOmEdc8uvhcMCH4Ng3nZo0Xer5PLRbJ3hWM6xTPP1Eax"


def _target(tmp_path: Path, **changes) -> SshTarget:
    known = tmp_path / "known_hosts"
    if not known.exists():
        known.write_text(f"[127.0.0.1]:2222 ssh-ed25519 {KEY}\n")
    base = SshTarget(name="web1", address="127.0.0.1", port=2222, user="deploy", key_files=(tmp_path / "id",),
                     known_hosts=known, connect_timeout=7.5, keepalive_interval=10, keepalive_count=3,
                     transport="openssh", persist=60, config_host="127.0.0.1")
    return dataclasses.replace(base, **changes)


def _option(argv: list[str], name: str) -> str | None:
    values = [argv[i + 1].split("=", 1)[1] for i, a in enumerate(argv[:-1])
              if a == "-o" and argv[i + 1].startswith(name + "=")]
    return values[-1] if values else None


def test_options_carry_the_settings(tmp_path) -> None:
    t = _target(tmp_path)
    argv = opts.base_options(t, SOCK)
    assert argv[argv.index("-p") + 1] == "2222" and argv[argv.index("-l") + 1] == "deploy"
    assert argv[argv.index("-i") + 1] == str(tmp_path / "id") and _option(argv, "IdentitiesOnly") == "yes"
    assert _option(argv, "BatchMode") == "yes"
    assert _option(argv, "ConnectTimeout") == "8"  # rounded up, never down to 0
    assert (_option(argv, "ServerAliveInterval"), _option(argv, "ServerAliveCountMax")) == ("10", "3")
    assert _option(argv, "ControlPath") == str(SOCK)
    assert _option(argv, "StrictHostKeyChecking") == "yes"
    assert _option(argv, "UserKnownHostsFile") == f'"{tmp_path / "known_hosts"}"'
    assert "-F" not in argv  # the user's ~/.ssh/config applies


def test_options_without_keys_agent_or_with_a_config(tmp_path) -> None:
    argv = opts.base_options(_target(tmp_path, key_files=(), use_agent=False, config_file=tmp_path / "cfg"), SOCK)
    assert "-i" not in argv and _option(argv, "IdentitiesOnly") is None
    assert _option(argv, "IdentityAgent") == "none"
    assert argv[:2] == ["-F", str(tmp_path / "cfg")]


@pytest.mark.parametrize(("policy", "strict", "files"), [
    ("strict", "yes", "stack+system"), ("accept-new", "accept-new", "stack+system"), ("off", "no", "/dev/null"),
])
def test_host_key_policies(tmp_path, policy, strict, files) -> None:
    system = tmp_path / "user_known_hosts"
    argv = opts.host_key_options(_target(tmp_path, host_key_policy=policy, system_known_hosts=(system,)))
    assert _option(argv, "StrictHostKeyChecking") == strict
    expected = "/dev/null" if files == "/dev/null" else f'"{tmp_path / "known_hosts"}" "{system}"'
    assert _option(argv, "UserKnownHostsFile") == expected


def test_master_and_command_lines(tmp_path) -> None:
    t = _target(tmp_path, persist=2.5)
    master = opts.master_command("/usr/bin/ssh", t, SOCK)
    assert master[0] == "/usr/bin/ssh" and master[-2:] == ["--", "127.0.0.1"]
    assert {"-N", "-f"} <= set(master) and _option(master, "ControlMaster") == "yes"
    assert _option(master, "ControlPersist") == "3"
    hostile = "echo 'a b' $(x); `y`"
    command = opts.command_line("ssh", t, SOCK, hostile)
    assert command[-3:] == ["--", "127.0.0.1", hostile]  # one argument: the remote shell reads it once
    assert _option(command, "ControlMaster") == "no"  # a command never becomes a master holding our pipes
    assert opts.command_line("ssh", _target(tmp_path, config_host="web-alias"), SOCK, "true")[-2] == "web-alias"


def test_control_names_are_short_and_decided_by_the_connection(tmp_path) -> None:
    t = _target(tmp_path)
    name = opts.control_name(t)
    assert len(name) == 16 and name.isalnum() and name == opts.control_name(t)
    assert opts.control_name(dataclasses.replace(t, persist=5)) == name  # persist does not make another master
    for change in ({"port": 2223}, {"user": "root"}, {"key_files": ()}, {"host_key_policy": "accept-new"},
                   {"config_host": "alias"}, {"use_agent": False}):
        assert opts.control_name(dataclasses.replace(t, **change)) != name, change


def test_a_changed_known_hosts_entry_changes_the_name(tmp_path) -> None:
    t = _target(tmp_path)
    name = opts.control_name(t)
    t.known_hosts.write_text("")  # ssh-keygen -R
    assert opts.control_name(t) != name
    t.known_hosts.write_text("[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBB\n")  # another key
    assert opts.control_name(t) not in (name, opts.control_name(dataclasses.replace(t, port=2223)))
    other = opts.control_name(t)
    with t.known_hosts.open("a") as f:  # another host's line changes nothing
        f.write("[127.0.0.1]:9999 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICCCC\n")
    assert opts.control_name(t) == other


def test_hashed_known_hosts_lines_are_matched(tmp_path) -> None:
    salt = os.urandom(20)
    digest = hmac.new(salt, b"[127.0.0.1]:2222", hashlib.sha1).digest()
    field = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    system = tmp_path / "hashed"
    system.write_text(f"{field} ssh-ed25519 KEYHASHED\n|1|c2FsdA==|bm90IGl0 ssh-ed25519 KEYOTHER\n")
    entries = opts.known_entries(_target(tmp_path, system_known_hosts=(system,)))
    assert sum("KEYHASHED" in e for e in entries) == 1 and not any("KEYOTHER" in e for e in entries)


def test_socket_dirs_that_fit() -> None:
    assert opts.fits(Path("/run/user/1000/runner-ssh"))
    assert not opts.fits(Path("/" + "x" * 80))


STDERR = {
    "refused": "ssh: connect to host 127.0.0.1 port 2222: Connection refused\n",
    "timeout": "ssh: connect to host 10.1.2.3 port 22: Connection timed out\n",
    "dns": "ssh: Could not resolve hostname nowhere.invalid: Name or service not known\n",
    "auth": "deploy@127.0.0.1: Permission denied (publickey,password).\n",
    "banner": "Connection timed out during banner exchange\nConnection to 127.0.0.1 port 2222 timed out\n",
    "host-key-unknown": "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\n"
                        "Host key verification failed.\n",
    "host-key-changed": (
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
        "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
        "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n"
        "The fingerprint for the ED25519 key sent by the remote host is\n"
        "SHA256:Wq0ymR8mDtbC2w3wJ7wGxQWnFiG6kkx3g2h3zY1XOp4.\n"
        "Offending ED25519 key in /tmp/known_hosts:1\n"
        "Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.\n"
        "Host key verification failed.\n"),
    "ssh": "Bad configuration option: nosuchoption\n",
}


@pytest.mark.parametrize("cause", sorted(STDERR))
def test_ssh_stderr_maps_to_the_paramiko_causes(tmp_path, cause) -> None:
    t = _target(tmp_path)
    error = opts.connect_error(t, STDERR[cause])
    assert error.cause == cause and error.host == "web1"
    text = str(error)
    if cause == "refused":
        assert text.endswith("connection refused at 127.0.0.1:2222")
    if cause == "host-key-changed":
        assert "host key changed: expected ssh-ed25519 SHA256:" in text
        assert "got SHA256:Wq0ymR8mDtbC2w3wJ7wGxQWnFiG6kkx3g2h3zY1XOp4;" in text
        assert f"ssh-keygen -R '[127.0.0.1]:2222' -f {t.known_hosts}" in text
    if cause == "host-key-unknown":
        assert "accept-new" in text
    if cause in ("timeout", "auth", "dns", "host-key-unknown"):
        assert text.endswith("(deploy@127.0.0.1:2222)")


def test_exit_255_is_the_commands_unless_ssh_says_otherwise(tmp_path) -> None:
    t = _target(tmp_path)
    assert opts.cut_off_reason(t, "", master_alive=True) is None
    assert opts.cut_off_reason(t, "my own error\n", master_alive=True) is None
    assert opts.cut_off_reason(t, "", master_alive=False) == "the host closed the connection"
    assert opts.cut_off_reason(t, "Connection to 127.0.0.1 closed by remote host.\n", True) is not None
    assert opts.cut_off_reason(t, "Timeout, server 127.0.0.1 not responding.\n", False) == \
        "no answer to 3 keepalives in 30 s"


def test_classic_key_exchanges_unless_the_stack_leaves_it_to_ssh(tmp_path) -> None:
    # the post-quantum hybrids cost the controller ~80 ms of CPU per handshake: left out by default
    assert _option(opts.base_options(_target(tmp_path), SOCK), "KexAlgorithms") == "-sntrup*,mlkem*"
    assert _option(opts.base_options(_target(tmp_path, kex="system"), SOCK), "KexAlgorithms") is None
