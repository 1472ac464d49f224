"""SSH transports as plugins: the hook, the registry's table, stack.ssh.transport and ssh.persist."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runner.cookbooks.validate import load_and_validate
from runner.errors import UserErrors
from runner.model.loader import load_stack
from runner.plugin.registry import Registry
from runner.providers.api import HostAddress
from runner.ssh import api, target
from runner.ssh.builtin import Paramiko
from runner.ssh.connection import Connection, ParamikoConnection
from runner.ssh.openssh import OpenSshConnection

STACK = """\
stack:
  name: s
  provider: static
  ssh: {transport: %s, persist: 5}
layers: {app: {}}
instances:
  web1: {layers: [app], address: 10.0.0.5}
"""


def test_the_builtin_transports_are_registered_and_listed() -> None:
    registry = Registry.load()
    assert registry.transports == {"paramiko": Paramiko, "openssh": OpenSshConnection}
    assert api.TRANSPORTS == registry.transports  # the ssh layer's table, filled by the registry
    info = next(p for p in registry.plugins if p.origin.name == "transports")
    assert info.transports == ["paramiko", "openssh"]
    assert Connection is ParamikoConnection  # the old name still imports
    out = subprocess.run([sys.executable, "-m", "runner", "plugins"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "COLUMNS": "300"}).stdout
    assert "ssh transports: paramiko, openssh" in out


def test_the_paramiko_stand_in_makes_a_paramiko_connection() -> None:
    made = Paramiko(target.SshTarget("web1", "10.0.0.5"))
    assert type(made) is ParamikoConnection and made.target.address == "10.0.0.5"
    assert not made.is_warm()


LAZY = """\
import sys
from pathlib import Path
from runner.cli.main import main
from runner.model.loader import load_stack
from runner.plugin.registry import Registry
from runner.providers.api import HostAddress
from runner.ssh import api, target
Registry.load()
stack = load_stack(Path(sys.argv[1]))
conn = api.connection_for(target.resolve_target(stack, HostAddress("web1", "web1", "10.0.0.5"), environ={}))
print(type(conn).__name__, "paramiko" in sys.modules)
"""


@pytest.mark.parametrize(("transport", "made", "imported"), [("openssh", "OpenSshConnection", False),
                                                            ("paramiko", "ParamikoConnection", True)])
def test_paramiko_is_imported_only_for_its_transport(tmp_path, transport, made, imported) -> None:
    (tmp_path / "stack.yml").write_text(STACK % transport)
    (tmp_path / "home").mkdir()  # no ~/.ssh/config: nothing for paramiko to parse
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", LAZY, str(tmp_path / "stack.yml")], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [made, str(imported)]


def test_transport_and_persist_reach_the_target(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("stack.yml").write_text(STACK % "openssh")
    stack = load_stack("stack.yml")
    assert (stack.ssh.transport, stack.ssh.persist) == ("openssh", 5)
    resolved = target.resolve_target(stack, HostAddress("web1", "web1", "10.0.0.5"), environ={})
    assert (resolved.transport, resolved.persist, resolved.config_host) == ("openssh", 5, "10.0.0.5")
    assert isinstance(api.connection_for(resolved), OpenSshConnection)
    Path("stack.yml").write_text(STACK.replace("  ssh: {transport: %s, persist: 5}\n", ""))
    default = load_stack("stack.yml").ssh
    assert (default.transport, default.persist) == ("paramiko", 60)


def test_an_unknown_transport_is_located_with_the_known_names(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("stack.yml").write_text(STACK % "opensh")
    with pytest.raises(UserErrors) as info:
        load_and_validate("stack.yml", known_transports={"paramiko", "openssh"})
    assert [str(e) for e in info.value.errors] == [
        "stack.yml:4:20: unknown ssh transport 'opensh' (did you mean 'openssh'? known: openssh, paramiko)"]
    Path("stack.yml").write_text(STACK % "telnet")
    with pytest.raises(UserErrors) as info:
        load_and_validate("stack.yml", known_transports={"paramiko", "openssh"})
    assert "unknown ssh transport 'telnet' (known: openssh, paramiko)" in str(info.value.errors[0])


def test_a_negative_persist_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("stack.yml").write_text(STACK.replace("persist: 5", "persist: -1") % "paramiko")
    with pytest.raises(UserErrors) as info:
        load_stack("stack.yml")
    assert "stack.yml:4:" in str(info.value.errors[0])


def test_the_ssh_config_is_parsed_once_per_version(tmp_path, monkeypatch) -> None:
    config = tmp_path / "config"
    config.write_text("Host web\n  HostName 10.0.0.9\n")
    calls = []
    from runner.ssh.paramiko_import import paramiko

    real = paramiko.SSHConfig.from_path
    monkeypatch.setattr(paramiko.SSHConfig, "from_path", lambda p: calls.append(p) or real(p))
    first = target._ssh_config(config)
    assert target._ssh_config(config) is first and len(calls) == 1
    config.write_text(textwrap.dedent("""\
        Host web
          HostName 10.0.0.10
        """))
    os.utime(config, ns=(1, 1))  # another version, whatever the clock's resolution
    assert target._ssh_config(config).lookup("web")["hostname"] == "10.0.0.10" and len(calls) == 2


def test_kex_reaches_the_target_and_a_wrong_one_is_located(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("stack.yml").write_text(STACK.replace("persist: 5", "persist: 5, kex: system") % "openssh")
    stack = load_stack("stack.yml")
    assert stack.ssh.kex == "system"
    assert target.resolve_target(stack, HostAddress("web1", "web1", "10.0.0.5"), environ={}).kex == "system"
    Path("stack.yml").write_text(STACK % "openssh")
    assert load_stack("stack.yml").ssh.kex == "classic"
    Path("stack.yml").write_text(STACK.replace("persist: 5", "persist: 5, kex: quantum") % "openssh")
    with pytest.raises(UserErrors) as info:
        load_stack("stack.yml")
    assert str(info.value.errors[0]) == ("stack.yml:4:46: stack.ssh.kex: unknown key exchange choice 'quantum' "
                                         "(expected one of: classic, system)")
