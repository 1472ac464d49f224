"""Resolving where and how to reach a host: instance, stack ssh settings, ~/.ssh/config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runner.errors import UserError
from runner.model.stack import SshSettings, Stack
from runner.providers.api import HostAddress
from runner.ssh.connection import sudo_wrap
from runner.ssh.target import resolve_target

SSH_CONFIG = """
Host web1
    HostName 10.9.8.7
    User deploy
    Port 2200
    IdentityFile {key}

Host *
    User fallback
"""


def _stack(tmp_path: Path, **ssh) -> Stack:
    return Stack(name="s", path=tmp_path / "stack.yml", ssh=SshSettings(**ssh))


@pytest.fixture
def ssh_config(tmp_path: Path) -> Path:
    key = tmp_path / "id_web1"
    key.write_text("not really a key")
    conf = tmp_path / "ssh_config"
    conf.write_text(SSH_CONFIG.format(key=key))
    return conf


def test_config_fills_in_what_nobody_set(tmp_path: Path, ssh_config: Path) -> None:
    t = resolve_target(_stack(tmp_path, config_file=ssh_config), HostAddress("web", "web", "web1"))
    assert (t.address, t.port, t.user) == ("10.9.8.7", 2200, "deploy")
    assert t.key_files == (tmp_path / "id_web1",)
    assert t.known_hosts_name == "[10.9.8.7]:2200"
    assert t.sudo  # not root: through sudo
    assert t.known_hosts == tmp_path / ".runner" / "known_hosts"


def test_stack_settings_beat_config_and_instance_beats_stack(tmp_path: Path, ssh_config: Path) -> None:
    stack = _stack(tmp_path, config_file=ssh_config, user="root", port=22)
    t = resolve_target(stack, HostAddress("web", "web", "web1"))
    assert (t.address, t.port, t.user, t.sudo) == ("10.9.8.7", 22, "root", False)
    t = resolve_target(stack, HostAddress("web", "web", "web1", port=2022, user="ops"))
    assert (t.port, t.user) == (2022, "ops")


def test_defaults_without_config(tmp_path: Path) -> None:
    t = resolve_target(_stack(tmp_path, config_file=tmp_path / "missing"), HostAddress("a", "a", "127.0.0.1"))
    assert (t.address, t.port, t.user, t.sudo, t.key_files) == ("127.0.0.1", 22, "root", False, ())
    assert t.known_hosts_name == "127.0.0.1"


def test_missing_key_file_is_a_user_error(tmp_path: Path) -> None:
    stack = _stack(tmp_path, key=tmp_path / "nope", config_file=tmp_path / "missing")
    with pytest.raises(UserError, match="ssh key .*nope does not exist"):
        resolve_target(stack, HostAddress("a", "a", "127.0.0.1"))


def test_sudo_password_comes_from_the_named_variable(tmp_path: Path) -> None:
    stack = _stack(tmp_path, user="ops", sudo_password_env="OPS_PW", config_file=tmp_path / "missing")
    t = resolve_target(stack, HostAddress("a", "a", "h"), environ={"OPS_PW": "pa ss"})
    assert t.sudo and t.sudo_password == "pa ss"
    assert "pa ss" not in repr(t)
    with pytest.raises(UserError, match="OPS_PW, which is not set"):
        resolve_target(stack, HostAddress("a", "a", "h"), environ={})


@pytest.mark.parametrize("command", ["echo 'a b' \"$HOME\" `id` $(id); rm -rf /nope", "printf '%s' \"it's\""])
def test_sudo_wrap_keeps_the_command_one_literal_argument(command: str) -> None:
    import shlex

    plain = sudo_wrap(command, with_password=False)
    assert shlex.split(plain) == ["sudo", "-n", "-H", "--", "sh", "-c", command]
    with_pw = sudo_wrap(command, with_password=True)
    script = shlex.split(with_pw)[2]
    assert shlex.split(with_pw)[:2] == ["sh", "-c"]
    assert f"sh -c {shlex.quote(command)}" in script


def test_match_exec_in_a_config_works(tmp_path: Path) -> None:
    """paramiko's invoke import is skipped (runner.ssh.paramiko_import); a config with Match exec brings it back.

    In a subprocess: invoke copies stdin to the command it runs, which pytest's capture forbids.
    """
    conf = tmp_path / "ssh_config"
    conf.write_text('Match host web1 exec "test -d /"\n    HostName 10.1.1.1\n\n'
                    'Match host web1 exec "test -d /no/such/dir"\n    Port 2299\n')
    code = (
        "from pathlib import Path\n"
        "from runner.model.stack import SshSettings, Stack\n"
        "from runner.providers.api import HostAddress\n"
        "from runner.ssh.target import resolve_target\n"
        "from runner.ssh.paramiko_import import paramiko\n"
        "assert paramiko.config.invoke is None\n"
        f"stack = Stack(name='s', path=Path({str(tmp_path / 'stack.yml')!r}), "
        f"ssh=SshSettings(config_file=Path({str(conf)!r}), user='root'))\n"
        "t = resolve_target(stack, HostAddress('web', 'web', 'web1'))\n"
        "print(t.address, t.port)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["10.1.1.1", "22"]


def test_keepalive_settings_reach_the_target(tmp_path: Path) -> None:
    stack = _stack(tmp_path, config_file=tmp_path / "missing", keepalive_interval=1.5, keepalive_count=2)
    t = resolve_target(stack, HostAddress("a", "a", "127.0.0.1"))
    assert (t.keepalive_interval, t.keepalive_count) == (1.5, 2)
