"""The docker provider against real containers (runner-docker must be installed)."""

from __future__ import annotations

import subprocess

import paramiko
import pytest

from runner.providers.api import HEAL_REPLACE, HEAL_RESTART, MISSING, ONLINE, STOPPED, HostAddress
from runner.testing import DockerHostSet

pytestmark = pytest.mark.integration


def _recorded_keys(hosts: DockerHostSet, host: HostAddress) -> list[str]:
    pattern = f"[{host.address}]:{host.port}"
    lines = hosts.stack.known_hosts_path.read_text().splitlines()
    return [" ".join(line.split()[1:3]) for line in lines if line.split()[0] == pattern]


def _container_key(hosts: DockerHostSet, name: str) -> str:
    text = hosts.exec(name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub").stdout
    return " ".join(text.split()[:2])


def _ssh_run(hosts: DockerHostSet, host: HostAddress, command: str, user: str = "root") -> str:
    client = paramiko.SSHClient()
    client.load_host_keys(str(hosts.stack.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(host.address, port=host.port, username=user, key_filename=str(host.key),
                       look_for_keys=False, allow_agent=False, timeout=10)
        _, stdout, _ = client.exec_command(command, timeout=10)
        return stdout.read().decode().strip()
    finally:
        client.close()


def _containers(stack_name: str) -> list[str]:
    proc = subprocess.run(["docker", "ps", "-a", "-q", "--filter", f"label=runner.stack={stack_name}"],
                          capture_output=True, text=True, timeout=30, check=True)
    return proc.stdout.split()


def _inspect(hosts: DockerHostSet, name: str, template: str) -> str:
    proc = subprocess.run(["docker", "inspect", "--format", template, hosts.container(name)],
                          capture_output=True, text=True, timeout=30, check=True)
    return proc.stdout.strip()


def _kill(hosts: DockerHostSet, name: str) -> None:
    """``docker kill`` the instance's container, then ``docker wait`` for it to have exited."""
    for verb in ("kill", "wait"):
        subprocess.run(["docker", verb, hosts.container(name)], capture_output=True, timeout=60, check=True)


def test_heal_restarts_a_killed_container(docker_hosts):
    hosts = docker_hosts(2)
    provider, stack = hosts.provider, hosts.stack
    before = _inspect(hosts, "app1", "{{.Id}}")
    key_before = _container_key(hosts, "app1")
    hosts.exec("app1", "touch", "/root/kept-by-restart")
    _kill(hosts, "app1")
    assert [s.status for s in provider.status()] == [STOPPED, ONLINE]

    assert provider.heal_mode("app1") == HEAL_RESTART
    (state,) = provider.heal(["app1"])
    assert state.online and state.details == {"container": hosts.container("app1"), "docker_state": "running"}
    assert _inspect(hosts, "app1", "{{.Id}}") == before  # the same container, started again
    assert _recorded_keys(hosts, state.host) == [key_before]
    assert _ssh_run(hosts, state.host, "hostname; ls /root/kept-by-restart").splitlines() == [
        stack.instances["app1"].hostname, "/root/kept-by-restart"]
    assert [s.status for s in provider.status()] == [ONLINE, ONLINE]


def test_heal_replace_makes_a_new_container_with_the_same_name_hostname_and_labels(docker_hosts):
    hosts = docker_hosts(1, config={"layers": {"app": {"provider_options": {"heal": "replace"}}}})
    provider, stack = hosts.provider, hosts.stack
    old = hosts.host("app1")
    before = {field: _inspect(hosts, "app1", template) for field, template in
              (("id", "{{.Id}}"), ("hostname", "{{.Config.Hostname}}"), ("labels", "{{json .Config.Labels}}"))}
    hosts.exec("app1", "touch", "/root/lost-by-replace")
    _kill(hosts, "app1")

    assert provider.heal_mode("app1") == HEAL_REPLACE
    (state,) = provider.heal(["app1"])
    assert state.online and state.details["container"] == hosts.container("app1")
    assert _inspect(hosts, "app1", "{{.Id}}") != before["id"]
    assert _inspect(hosts, "app1", "{{.Config.Hostname}}") == before["hostname"] == stack.instances["app1"].hostname
    assert _inspect(hosts, "app1", "{{json .Config.Labels}}") == before["labels"]
    assert _recorded_keys(hosts, state.host) == [_container_key(hosts, "app1")]
    if state.host.port != old.port:
        assert _recorded_keys(hosts, old) == []  # destroy forgot the old container's line
    assert _ssh_run(hosts, state.host, "hostname; ls /root/lost-by-replace 2>/dev/null || echo gone").splitlines() == [
        stack.instances["app1"].hostname, "gone"]


def test_lifecycle(docker_hosts):
    hosts = docker_hosts(2, layers=("app",))
    provider, stack = hosts.provider, hosts.stack

    states = {s.name: s for s in provider.status()}
    assert [s.status for s in states.values()] == [ONLINE, ONLINE]
    for name, state in states.items():
        assert state.host.address == "127.0.0.1" and state.host.port > 0
        assert state.host.hostname == stack.instances[name].hostname
        assert state.host.key == stack.state_dir / "id_ed25519"
    assert [h.instance for h in hosts.hosts] == ["app1", "app2"]

    for host in hosts.hosts:
        assert _recorded_keys(hosts, host) == [_container_key(hosts, host.instance)]
        assert _ssh_run(hosts, host, "hostname") == stack.instances[host.instance].hostname

    # deploy has passwordless sudo; pwuser's sudo wants a password
    first = hosts.hosts[0]
    assert _ssh_run(hosts, first, "sudo -n id -u", user="deploy") == "0"
    assert _ssh_run(hosts, first, "sudo -n true 2>/dev/null || echo needs-password", user="pwuser") == "needs-password"

    old = hosts.host("app2")
    key_before = _container_key(hosts, "app2")
    state = hosts.stop("app2")
    assert state.status == STOPPED and state.host is None
    assert {s.name: s.status for s in provider.status()} == {"app1": ONLINE, "app2": STOPPED}
    assert [h.instance for h in hosts.hosts] == ["app1"]

    new = hosts.start("app2")
    assert provider.status(["app2"])[0].status == ONLINE
    assert _recorded_keys(hosts, new) == [key_before]  # the container kept its host key
    if new.port != old.port:
        assert _recorded_keys(hosts, old) == []  # the stale port's line is gone
    assert _ssh_run(hosts, new, "hostname") == stack.instances["app2"].hostname

    assert provider.start() and len(_containers(stack.name)) == 2  # idempotent: no new containers

    provider.destroy()
    assert [s.status for s in provider.status()] == [MISSING, MISSING]
    assert _containers(stack.name) == []
    assert "127.0.0.1" not in stack.known_hosts_path.read_text()


def test_exec_and_layers_label(docker_hosts):
    hosts = docker_hosts(1, layers=("app", "lb"), names=["web1"])
    assert hosts.exec("web1", "id", "-un").stdout.strip() == "root"
    proc = subprocess.run(
        ["docker", "inspect", "--format", '{{index .Config.Labels "runner.layers"}}', hosts.container("web1")],
        capture_output=True, text=True, timeout=30, check=True,
    )
    assert proc.stdout.strip() == "app,lb"


def test_ten_hosts_start_in_parallel(docker_hosts):
    hosts = docker_hosts(10)
    assert len(hosts.hosts) == 10
    assert len({h.port for h in hosts.hosts}) == 10
    assert {s.status for s in hosts.status()} == {"online"}


def test_ensure_image_is_cached(runner_docker_session):
    from runner_docker import image

    tag = image.ensure_image(progress=lambda line: None)
    lines: list[str] = []
    assert image.ensure_image(progress=lines.append) == tag
    assert lines == []  # nothing was built
    assert tag.startswith("runner-host:bookworm-") and len(tag.rsplit("-", 1)[1]) == 10


def test_provider_options_apply_per_instance(docker_hosts):
    import docker

    config = {
        "stack": {"provider_options": {"memory": "256m"}},
        "instances": {"app2": {"provider_options": {"memory": "384m"}}},
    }
    hosts = docker_hosts(2, config=config)
    sdk = docker.from_env(timeout=30)
    try:
        memory = {name: sdk.containers.get(hosts.container(name)).attrs["HostConfig"]["Memory"]
                  for name in ("app1", "app2")}
    finally:
        sdk.close()
    assert memory == {"app1": 256 * 1024 * 1024, "app2": 384 * 1024 * 1024}
    assert {s.status for s in hosts.status()} == {ONLINE}


def test_api_errors_carry_dockers_explanation(runner_docker_session, tmp_path):
    import tarfile

    from runner_docker import client, image
    from runner_docker.client import DockerError

    with pytest.raises(DockerError) as caught, client.calling("inspect runner-no-such-container"):
        client.client().api.inspect_container("runner-no-such-container")
    assert "No such container" in str(caught.value) and caught.value.status == 404
    assert client.image_exists("runner-host:no-such-tag") is False

    bad = tmp_path / "rootfs.tar"
    bad.write_bytes(b"this is not a tarball\n" * 100)
    with pytest.raises(DockerError) as caught:
        image.import_rootfs(bad, "runner-test-import:bad")
    assert str(caught.value).startswith("docker import rootfs.tar runner-test-import:bad failed")
    assert client.image_exists("runner-test-import:bad") is False

    tiny = tmp_path / "tiny.tar"
    (tmp_path / "hello").write_text("hello\n")
    with tarfile.open(tiny, "w") as tar:
        tar.add(tmp_path / "hello", arcname="hello")
    tag = f"runner-test-import:{tmp_path.name.lower()[-20:].strip('.-_') or 'x'}"
    image.import_rootfs(tiny, tag)
    try:
        attrs = client.client().api.inspect_image(tag)
        assert attrs["Config"]["Entrypoint"] == [image.ENTRYPOINT]
        assert attrs["Config"]["Labels"] == {"runner.image": tag}
    finally:
        client.client().api.remove_image(tag, force=True)
