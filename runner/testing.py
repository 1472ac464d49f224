"""A pytest plugin that gives tests real hosts: Docker containers running sshd.

For runner's own tests and for plugin authors. Enabled by the ``pytest11``
entry point of opsrunner (or ``pytest_plugins = ["runner.testing"]``)::

    def test_setup(docker_hosts):
        hosts = docker_hosts(2, layers=("app",))
        host = hosts.hosts[0]                       # a HostAddress on 127.0.0.1
        assert hosts.exec("app1", "hostname").stdout.strip() == host.hostname

Each call writes a throwaway stack (provider ``docker``, a unique name
``t-<8 hex>``) in a temp dir and starts its instances. Every container a test
made is destroyed when the test ends, failed or not; a session-wide sweep
also removes ``t-*`` containers whose test process is gone.

Without Docker, :class:`LocalConnection` and :func:`converge_locally` run a
resource type's probe and apply scripts with this machine's ``sh``, through
the same engine and wire wrapper as a real host::

    from runner.testing import converge_locally

    def test_my_type(tmp_path):
        outcome, commands = converge_locally([LineInFile(str(tmp_path / "f"), line="x")])
        assert not outcome.failed and commands == 2       # probe, then apply
        outcome, commands = converge_locally([LineInFile(str(tmp_path / "f"), line="x")])
        assert commands == 1                              # nothing to change: the probe alone

For provider plugins, :class:`ProviderConformance` (from runner.conformance) is a
test suite to subclass with a ``provider_stack`` fixture; :func:`write_stack`
writes and loads a throwaway stack for any provider (see docs/providers.md).

The docker provider is reached through the plugin registry (it lives in the
runner-docker distribution), never imported. Without Docker the tests are
skipped, or fail when ``CI=true``. Tests using ``docker_hosts`` get the
``integration`` marker, so ``-m "not integration"`` leaves them out.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from runner.conformance import ProviderApiConformance, ProviderConformance, ProviderSshConformance
from runner.engine.host import HostJob, HostOptions, HostRunner
from runner.engine.outcome import HostOutcome
from runner.model.stack import Stack
from runner.providers.api import HostAddress, InstanceState, Provider
from runner.resources.api import Resource
from runner.ssh.api import CommandResult, Stdin

__all__ = ["ProviderApiConformance", "ProviderConformance", "ProviderSshConformance", "write_stack",
           "docker_hosts", "docker_hosts_module", "converge_locally", "LocalConnection"]

STACK_PREFIX = "t-"
OWNER_FILE = ".runner-test-owner"  # beside a test stack.yml: the pid of the pytest process that made it
LABEL_STACK = "runner.stack"
LABEL_INSTANCE = "runner.instance"
LABEL_STACK_FILE = "runner.stack_file"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs a Docker engine (tests start containers as hosts)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"docker_hosts", "docker_hosts_module"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


# -- without Docker: this machine's sh as the host -----------------------------


class LocalConnection:
    """Stands in for an SSH connection: each remote command runs with this machine's ``sh -c``.

    Only for tests (it runs as the current user, on this machine). ``commands_run``
    counts the commands, as :class:`runner.ssh.connection.Connection` does.
    """

    def __init__(self, name: str = "local", timeout: float = 60.0) -> None:
        self.name, self.timeout = name, timeout
        self.commands_run = 0

    def run(self, command: str, stdin: Stdin = None, timeout: float | None = None,
            sudo: bool | None = None) -> CommandResult:
        self.commands_run += 1
        data = stdin.encode() if isinstance(stdin, str) else stdin
        if data is not None and not isinstance(data, bytes):
            data = b"".join(data)
        proc = subprocess.run(["sh", "-c", command], input=data, capture_output=True,
                              timeout=timeout or self.timeout)
        return CommandResult(command, proc.returncode, proc.stdout, proc.stderr, 0.0)


def converge_locally(resources: Sequence[Resource], *, plan: bool = False,
                     connection: LocalConnection | None = None) -> tuple[HostOutcome, int]:
    """Probe, diff and apply ``resources`` here with sh, as the engine does on a host.

    Returns the host's outcome and the number of commands it cost (1 when
    nothing had to change, 2 when something was applied).
    """
    conn = connection or LocalConnection()
    before = conn.commands_run
    outcome = HostRunner(HostJob(conn.name, list(resources)), conn, HostOptions(plan=plan)).run()  # type: ignore[arg-type]
    return outcome, conn.commands_run - before


# -- docker, straight from the CLI (this module must not import runner_docker) --


def _docker(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def docker_unavailable_reason() -> str | None:
    """Why Docker hosts cannot be had here, or None when they can."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    try:
        proc = _docker("info", "--format", "{{.ServerVersion}}", timeout=15)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 15 s"
    if proc.returncode != 0 or not proc.stdout.strip():
        return f"the Docker daemon does not answer: {proc.stderr.strip() or proc.stdout.strip()}"
    return None


def _unavailable(reason: str) -> None:
    message = f"Docker hosts unavailable: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _remove_containers(*filters: str) -> None:
    argv = ["ps", "-aq"] + [arg for f in filters for arg in ("--filter", f)]
    ids = _docker(*argv).stdout.split()
    if ids:
        _docker("rm", "--force", *ids, timeout=120)


def _owner_alive(stack_file: str) -> bool:
    try:
        pid = int((Path(stack_file).parent / OWNER_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphans() -> None:
    """Remove ``t-*`` test containers whose pytest process is gone (another session's live ones stay)."""
    fmt = f'{{{{.ID}}}}\t{{{{.Label "{LABEL_STACK}"}}}}\t{{{{.Label "{LABEL_STACK_FILE}"}}}}'
    proc = _docker("ps", "-a", "--filter", f"label={LABEL_STACK}", "--format", fmt)
    doomed = []
    for row in proc.stdout.splitlines():
        cid, stack, stack_file = (row.split("\t") + ["", "", ""])[:3]
        if stack.startswith(STACK_PREFIX) and not _owner_alive(stack_file):
            doomed.append(cid)
    if doomed:
        _docker("rm", "--force", *doomed, timeout=120)


# -- what a test gets ------------------------------------------------------


class DockerHostSet:
    """The hosts of one throwaway stack, and the verbs a test needs on them."""

    def __init__(self, stack: Stack, provider: Provider, states: Sequence[InstanceState]):
        self.stack = stack
        self.provider = provider
        self._hosts: dict[str, HostAddress | None] = {name: None for name in stack.instances}
        self._update(states)

    def _update(self, states: Sequence[InstanceState]) -> None:
        for state in states:
            self._hosts[state.name] = state.host

    @property
    def names(self) -> list[str]:
        """The instance names, in stack order."""
        return list(self._hosts)

    @property
    def hosts(self) -> list[HostAddress]:
        """The online hosts, in stack order (a stopped one is left out until started again)."""
        return [h for h in self._hosts.values() if h is not None]

    def host(self, name: str) -> HostAddress:
        host = self._hosts[name]
        if host is None:
            raise LookupError(f"instance {name!r} is not online")
        return host

    def status(self) -> list[InstanceState]:
        return self.provider.status()

    def stop(self, name: str) -> InstanceState:
        (state,) = self.provider.stop([name])
        self._update([state])
        return state

    def start(self, name: str) -> HostAddress:
        """Start (or create) one instance again; its port may change."""
        (state,) = self.provider.start([name])
        self._update([state])
        return self.host(name)

    def container(self, name: str) -> str:
        """The container name of an instance."""
        namer = getattr(self.provider, "container_name", None)
        if namer is not None:
            return namer(name)
        ids = _docker("ps", "-aq", "--filter", f"label={LABEL_STACK}={self.stack.name}",
                      "--filter", f"label={LABEL_INSTANCE}={name}").stdout.split()
        if not ids:
            raise LookupError(f"instance {name!r} has no container")
        return ids[0]

    def exec(
        self, name: str, *argv: str, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """``docker exec`` in an instance's container: look at a host from outside SSH."""
        proc = _docker("exec", self.container(name), *argv, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker exec {name} {argv!r} exited with {proc.returncode}: {proc.stderr.strip()}")
        return proc

    def destroy(self) -> None:
        """Remove every container of this stack (also done at teardown)."""
        try:
            self.provider.destroy()
        finally:  # whatever the provider did, leave nothing behind
            _remove_containers(f"label={LABEL_STACK}={self.stack.name}")


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def write_stack(
    directory: Path,
    provider: str,
    count: int = 2,
    layers: Sequence[str] = ("app",),
    *,
    names: Sequence[str] | None = None,
    config: Mapping[str, Any] | None = None,
    name: str | None = None,
    registry: Any = None,
) -> Stack:
    """Write a throwaway stack.yml for ``provider`` in ``directory`` and load it.

    Instances are named ``<first layer>1..count`` unless ``names`` is given, each in every
    layer of ``layers``; ``config`` is deep-merged into the document. The stack is named
    ``t-<8 hex>`` unless ``name`` is given, and the file beside it names this pytest
    process, so the docker sweep can tell a dead session's leftovers.
    """
    from runner.model.loader import load_stack
    from runner.plugin.registry import Registry

    layers = tuple(layers)
    prefix = layers[0] if layers else "host"
    instance_names = list(names) if names else [f"{prefix}{i}" for i in range(1, count + 1)]
    document: dict[str, Any] = {
        "stack": {"name": name or f"{STACK_PREFIX}{uuid.uuid4().hex[:8]}", "provider": provider},
        "layers": {layer: {} for layer in layers},
        "instances": {n: {"layers": list(layers)} for n in instance_names},
    }
    document = _merge(document, config or {})
    directory.mkdir(parents=True, exist_ok=True)
    (directory / OWNER_FILE).write_text(f"{os.getpid()}\n")
    path = directory / "stack.yml"
    path.write_text(json.dumps(document, indent=2) + "\n")  # JSON is YAML
    registry = registry or Registry.load()
    return load_stack(path, {n: kind.declaration() for n, kind in registry.app_sources.items()})


class _Session:
    """Every test stack this pytest process made, so the session's end can remove them all."""

    def __init__(self) -> None:
        self.stacks: list[str] = []

    def close(self) -> None:
        for name in self.stacks:
            _remove_containers(f"label={LABEL_STACK}={name}")
        sweep_orphans()


@pytest.fixture(scope="session")
def runner_docker_session() -> Iterator[_Session]:
    """Session safety net: removes leftovers of dead sessions at the start, this session's at the end."""
    reason = docker_unavailable_reason()
    if reason:
        _unavailable(reason)
    sweep_orphans()
    session = _Session()
    try:
        yield session
    finally:
        session.close()


DockerHosts = Callable[..., DockerHostSet]


@contextlib.contextmanager
def _factory(session: _Session, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerHosts]:
    """The factory behind both fixtures; every stack it made is destroyed on exit."""
    from runner.plugin.registry import Registry

    made: list[DockerHostSet] = []

    def factory(
        count: int = 1,
        layers: Sequence[str] = ("app",),
        *,
        names: Sequence[str] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> DockerHostSet:
        stack_name = f"{STACK_PREFIX}{uuid.uuid4().hex[:8]}"
        directory = tmp_path_factory.mktemp(stack_name, numbered=True)
        registry = Registry.load()  # a broken plugin is an error, not a reason to skip
        stack = write_stack(directory, "docker", count, layers, names=names, config=config, name=stack_name,
                            registry=registry)
        if stack.provider not in registry.providers:
            _unavailable(f"no {stack.provider!r} provider is registered: is runner-docker installed?")
        provider = registry.provider(stack.provider)(stack)
        hosts = DockerHostSet(stack, provider, [])
        session.stacks.append(stack.name)
        made.append(hosts)  # before start: a half-started stack is cleaned up too
        hosts._update(provider.start())
        return hosts

    try:
        yield factory
    finally:
        errors = []
        for hosts in made:
            try:
                hosts.destroy()
            except Exception as exc:  # go on: every stack must be cleaned
                errors.append(exc)
        if errors:
            raise errors[0]


@pytest.fixture
def docker_hosts(runner_docker_session: _Session, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerHosts]:
    """Factory of Docker hosts: ``docker_hosts(count=1, layers=("app",), *, names=None, config=None)``.

    Instances are named ``<first layer>1..count`` unless ``names`` is given, and
    each is in every layer of ``layers``. ``config`` is deep-merged into the
    stack.yml document (e.g. ``{"stack": {"provider_options": {"memory": "256m"}}}``
    or an ``apps:`` section). Returns a started :class:`DockerHostSet`; its
    containers are destroyed when the test ends.
    """
    with _factory(runner_docker_session, tmp_path_factory) as factory:
        yield factory


@pytest.fixture(scope="module")
def docker_hosts_module(
    runner_docker_session: _Session, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerHosts]:
    """Like :func:`docker_hosts`, but the hosts live until the module's last test (for read-only tests)."""
    with _factory(runner_docker_session, tmp_path_factory) as factory:
        yield factory
