"""The docker provider without a daemon: Docker's states as OpsWorks' words, ports, per-instance settings."""

import textwrap

import pytest
from runner_docker.provider import STATES, Container, DockerProvider, _published, status_word

from runner.model.loader import load_stack
from runner.providers.api import (
    BOOTING,
    MISSING,
    ONLINE,
    SHUTTING_DOWN,
    STATUSES,
    STOP_FAILED,
    STOPPED,
)

STACK = """\
stack:
  name: dk
  provider: docker
  provider_options: {memory: 256m}
layers:
  web:
    provider_options: {privileged: true}
  db: {}
instances:
  web1: {layers: [web], ports: [80]}
  db1: {layers: [db], provider_options: {memory: 512m, image: "my/host:1"}}
"""


@pytest.mark.parametrize(("docker_state", "status"), [
    ("running", ONLINE),
    ("created", STOPPED),
    ("restarting", BOOTING),
    ("paused", STOPPED),
    ("exited", STOPPED),
    ("removing", SHUTTING_DOWN),
    ("dead", STOP_FAILED),
    (None, MISSING),
])
def test_docker_states_are_opsworks_words(docker_state, status):
    assert status_word(docker_state) == status


def test_every_mapped_word_is_a_status_word_and_unknown_states_pass_through():
    assert set(STATES.values()) <= set(STATUSES)
    assert status_word("hibernating") == "hibernating"


@pytest.fixture
def provider(tmp_path):
    path = tmp_path / "stack.yml"
    path.write_text(textwrap.dedent(STACK))
    return DockerProvider(load_stack(path), progress=lambda line: None)


@pytest.mark.parametrize(("docker_state", "status"), [
    ("running", ONLINE), ("exited", STOPPED), ("dead", STOP_FAILED), ("restarting", BOOTING)])
def test_state_keeps_dockers_word_in_details(provider, tmp_path, docker_state, status):
    container = Container("runner-dk-web1", "web1", docker_state, 32768, "", {80: 32769}, "172.17.0.5")
    state = provider._state("web1", container, tmp_path / "id_ed25519")
    assert state.status == status
    assert state.details == {"container": "runner-dk-web1", "docker_state": docker_state}
    if status == ONLINE:
        assert (state.host.address, state.host.port, state.host.private_address) == ("127.0.0.1", 32768, "172.17.0.5")
        assert state.host.ports == {80: 32769}
    else:
        assert state.host is None
    assert provider._state("web1", None, tmp_path / "k").status == MISSING


def test_running_without_a_published_sshd_is_not_online(provider, tmp_path):
    state = provider._state("web1", Container("runner-dk-web1", "web1", "running", None, ""), tmp_path / "k")
    assert state.status == STOPPED and state.host is None


def test_published_ports_from_a_listing_and_from_an_inspect():
    listing = [
        {"IP": "127.0.0.1", "PrivatePort": 22, "PublicPort": 32768, "Type": "tcp"},
        {"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 32770, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 81, "PublicPort": 32771, "Type": "tcp"},  # not ours: not on loopback
        {"PrivatePort": 9000, "Type": "tcp"},  # exposed, not published
    ]
    assert _published(listing) == {22: 32768, 80: 32770}
    inspect = {"22/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}], "80/tcp": None,
               "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}]}
    assert _published(inspect) == {22: 32768}
    assert _published(None) == {} and _published({}) == {}


def test_run_settings_take_each_instances_own_options(provider):
    web = provider.run_settings("web1", "runner-host:x", "ssh-ed25519 AAAA runner")
    assert web["mem_limit"] == "256m" and web["privileged"] is True  # stack's memory, layer's privileged
    assert web["ports"] == {"22/tcp": ("127.0.0.1",), "80/tcp": ("127.0.0.1",)}
    assert web["labels"] == {"runner.stack": "dk", "runner.instance": "web1", "runner.layers": "web",
                             "runner.stack_file": str(provider.stack.path.resolve())}
    assert (web["name"], web["init"], web["detach"]) == ("runner-dk-web1", True, True)
    assert web["environment"] == {"RUNNER_AUTHORIZED_KEY": "ssh-ed25519 AAAA runner"}
    db = provider.run_settings("db1", "my/host:1", "key")
    assert db["mem_limit"] == "512m" and "privileged" not in db
    assert provider.options_for("db1")["image"] == "my/host:1"


def test_a_daemon_that_is_not_there_is_the_users_to_fix(tmp_path, monkeypatch):
    from runner_docker import client

    from runner.errors import UserError

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-daemon.sock'}")
    with pytest.raises(UserError) as caught:
        client.client(timeout=5.0)
    assert caught.value.hint == "start the Docker daemon, or check DOCKER_HOST"
    assert str(caught.value).startswith("cannot reach the Docker daemon: ")
    assert client.docker_available(timeout=5.0) is False


def test_heal_mode_is_the_instances_heal_option(tmp_path):
    path = tmp_path / "stack.yml"
    path.write_text(textwrap.dedent(STACK).replace("{memory: 512m,", "{heal: replace, memory: 512m,"))
    provider = DockerProvider(load_stack(path), progress=lambda line: None)
    assert (provider.heal_mode("web1"), provider.heal_mode("db1")) == ("restart", "replace")


@pytest.mark.parametrize(("value", "expected"), [
    ("recreate", "must be restart or replace, not 'recreate' (restart: stop and start the same container;"
                 " replace: remove it and make a new one)"),
    ("restrat", "must be restart or replace, not 'restrat' (did you mean 'restart'?)"),
])
def test_runner_validate_rejects_an_unknown_heal_mode_at_its_place(tmp_path, monkeypatch, capsys, value, expected):
    from runner.cli.main import main

    path = tmp_path / "stack.yml"
    path.write_text(textwrap.dedent(STACK).replace("{privileged: true}", f"{{privileged: true, heal: {value}}}"))
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert f"stack.yml:7:48: provider option 'heal': {expected}" in err, err
    assert "Traceback" not in err
