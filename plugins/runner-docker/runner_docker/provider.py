"""The ``docker`` provider: each instance of a stack is a local container running sshd.

The daemon is reached through the Docker SDK for Python (:mod:`runner_docker.client`:
``DOCKER_HOST`` is honoured). Containers are named ``runner-<stack>-<instance>``
and labelled with the stack, instance, layers and stack file, so one listing
by label tells the state of a whole stack (its states, published ports and
network addresses). sshd, and the service ports an instance lists (``ports: [80]``),
are published on 127.0.0.1 only, each on a port Docker picks. Published ports
are fixed when a container is created: a port added later needs a new one
(``runner instances destroy`` then ``converge``).

Host keys are read from the container with an exec (a channel we
already trust) and recorded in the stack's known_hosts, so the SSH transport
can run with ``host_key_policy: strict`` from the first connection.
"""

from __future__ import annotations

import difflib
import re
import socket
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.errors import HostError, RunnerError, UserError
from runner.model.stack import Stack
from runner.providers.api import (
    BOOTING,
    HEAL_MODES,
    HEAL_RESTART,
    MISSING,
    ONLINE,
    SHUTTING_DOWN,
    STOP_FAILED,
    STOPPED,
    HostAddress,
    InstanceState,
    Provider,
)
from runner.ssh import known_hosts
from runner_docker import listing
from runner_docker.client import DEFAULT_TIMEOUT, DockerError, calling, client, not_found
from runner_docker.image import ensure_image
from runner_docker.keys import ensure_key

LOOPBACK = "127.0.0.1"
SSH_READY_TIMEOUT = 30.0
STOP_TIMEOUT = 5
MAX_PARALLEL = 16
RUN_TIMEOUT = 120.0  # creating a container may pull a user's image first
HOST_KEY_FILE = "/etc/ssh/ssh_host_ed25519_key.pub"

LABEL_STACK = "runner.stack"
LABEL_INSTANCE = "runner.instance"
LABEL_LAYERS = "runner.layers"
LABEL_STACK_FILE = "runner.stack_file"

#: provider_options keys in stack.yml and the type each must have.
OPTIONS: dict[str, tuple[type, ...]] = {
    "image": (str,), "privileged": (bool,), "memory": (str, int), "heal": (str,),
}

#: Docker's container states as OpsWorks' status words. A created container was never started
#: (docker create, or a run that failed before its start): stopped, as OpsWorks says of an
#: instance that exists and does not run. A paused one keeps its memory but runs nothing and
#: answers no SSH: stopped too. Its own word is kept in details["docker_state"].
STATES: dict[str, str] = {
    "running": ONLINE,
    "created": STOPPED,
    "restarting": BOOTING,
    "paused": STOPPED,
    "exited": STOPPED,
    "removing": SHUTTING_DOWN,
    "dead": STOP_FAILED,
}


def status_word(docker_state: str | None) -> str:
    """OpsWorks' status word for a Docker container state (None: no container, MISSING).

    A state this table does not know (a newer Docker's) is passed through as it is.
    """
    if docker_state is None:
        return MISSING
    return STATES.get(docker_state, docker_state)


def sanitize(text: str) -> str:
    """``text`` made fit for a container name (``[a-zA-Z0-9][a-zA-Z0-9_.-]*``)."""
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-.")
    return cleaned or "x"


@dataclass(frozen=True)
class Container:
    """One container of this stack, as the daemon's listing shows it."""

    name: str
    instance: str
    state: str  # docker's word: running, exited, created, ...
    port: int | None
    stack_file: str
    published: dict[int, int] = field(default_factory=dict)  # container port -> 127.0.0.1 port (not sshd)
    ip: str | None = None  # its address on Docker's network, while it runs


def _progress(line: str) -> None:
    print(line, file=sys.stderr)


def _published(ports: Any) -> dict[int, int]:
    """Container port -> 127.0.0.1 port, from either form the API gives.

    A listing gives ``[{"IP": "127.0.0.1", "PrivatePort": 22, "PublicPort": 32768, "Type": "tcp"}]``;
    an inspect gives ``{"22/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}]}``.
    """
    found: dict[int, int] = {}
    if isinstance(ports, list):
        for entry in ports:
            if entry.get("IP") == LOOPBACK and entry.get("Type") == "tcp" and entry.get("PublicPort"):
                found[int(entry["PrivatePort"])] = int(entry["PublicPort"])
    elif isinstance(ports, dict):
        for inner, bindings in ports.items():
            port, _, proto = inner.partition("/")
            for binding in bindings or ():
                if proto == "tcp" and binding.get("HostIp") == LOOPBACK and binding.get("HostPort"):
                    found[int(port)] = int(binding["HostPort"])
    return found


def _first_ip(networks: Any) -> str | None:
    for network in (networks or {}).values():
        if network and network.get("IPAddress"):
            return str(network["IPAddress"])
    return None


def _parallel(work: Callable[[str], None], items: Sequence[str]) -> None:
    """``work(item)`` for every item, up to MAX_PARALLEL at once; every error is raised together."""
    if not items:
        return
    errors: list[RunnerError] = []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items))) as pool:
        for future in [pool.submit(work, item) for item in items]:
            try:
                future.result()
            except RunnerError as exc:
                errors.append(exc)
    _raise_all(errors)


def _raise_all(errors: Sequence[RunnerError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise RunnerError("\n".join(str(e) for e in errors))


class DockerProvider(Provider):
    name = "docker"
    description = "local Docker containers running sshd, published on 127.0.0.1"
    option_types = OPTIONS

    def __init__(self, stack: Stack, progress: Callable[[str], None] = _progress) -> None:
        super().__init__(stack)
        self.progress = progress
        self.options = self._check_options(stack)

    # -- helpers ---------------------------------------------------------

    @classmethod
    def check_option(cls, key: str, value: Any) -> str | None:
        if key == "heal" and value not in HEAL_MODES:
            close = difflib.get_close_matches(value, HEAL_MODES, n=1)
            hint = f"did you mean {close[0]!r}?" if close else (
                "restart: stop and start the same container; replace: remove it and make a new one")
            return f"must be {' or '.join(HEAL_MODES)}, not {value!r} ({hint})"
        return None

    def heal_mode(self, instance: str) -> str:
        """``restart`` (default: the same container, its files kept) or ``replace`` (a new container)."""
        return str(self.options_for(instance).get("heal", HEAL_RESTART))

    @classmethod
    def _check_options(cls, stack: Stack) -> dict[str, Any]:
        errors = cls.check_options(stack)
        if errors:
            raise errors[0]
        return dict(stack.provider_options)

    def container_name(self, instance: str) -> str:
        """The container of an instance: ``runner-<stack>-<instance>``."""
        return f"runner-{sanitize(self.stack.name)}-{sanitize(instance)}"

    def _checked_names(self, names: Sequence[str] | None) -> list[str]:
        wanted = self._names(names)
        for name in wanted:
            if name not in self.stack.instances:
                close = difflib.get_close_matches(name, list(self.stack.instances), n=1)
                hint = f"did you mean {close[0]!r}?" if close else None
                raise UserError(f"unknown instance {name!r}", hint=hint)
        return wanted

    def _stack_file(self) -> str:
        return str(Path(self.stack.path).resolve())

    def containers(self) -> dict[str, Container]:
        """This stack's containers by instance name, from one listing filtered by the stack's label."""
        label = f"{LABEL_STACK}={self.stack.name}"
        local = listing.local_socket()
        if local is not None:  # the local daemon: one request, without loading the SDK
            rows = listing.containers(label, local)
        else:
            with calling(f"ps --filter label={label}"):
                rows = client().api.containers(all=True, filters={"label": label})
        found: dict[str, Container] = {}
        for row in rows:
            labels = row.get("Labels") or {}
            instance = labels.get(LABEL_INSTANCE)
            if not instance:
                continue
            names = row.get("Names") or [row.get("Id", "")]
            published = _published(row.get("Ports"))
            ssh_port = published.pop(22, None)
            state = str(row.get("State") or "")
            ip = _first_ip((row.get("NetworkSettings") or {}).get("Networks")) if state == "running" else None
            found[instance] = Container(names[0].lstrip("/"), instance, state, ssh_port,
                                        labels.get(LABEL_STACK_FILE, ""), published, ip)
        return found

    def _host(self, instance: str, port: int, key: Path, ip: str | None = None,
              published: dict[int, int] | None = None) -> HostAddress:
        hostname = self.stack.instances[instance].hostname if instance in self.stack.instances else instance
        return HostAddress(instance, hostname, LOOPBACK, port, user=None, key=key, private_address=ip,
                           ports=dict(published or {}))

    @staticmethod
    def addresses(container_names: Sequence[str]) -> dict[str, str]:
        """Container name -> its address on Docker's network (what other containers connect to).

        A container that is gone, or on no network, is left out.
        """
        found: dict[str, str] = {}
        for cname in container_names:
            with calling(f"inspect {cname}"):
                try:
                    attrs = client().api.inspect_container(cname)
                except not_found():
                    continue
            ip = _first_ip((attrs.get("NetworkSettings") or {}).get("Networks"))
            if ip:
                found[cname] = ip
        return found

    def _state(self, instance: str, container: Container | None, key: Path) -> InstanceState:
        if container is None:
            return InstanceState(instance, MISSING)
        status = status_word(container.state)
        details = {"container": container.name, "docker_state": container.state}
        if status == ONLINE and container.port:
            host = self._host(instance, container.port, key, container.ip, container.published)
            return InstanceState(instance, ONLINE, host, details)
        return InstanceState(instance, status if status != ONLINE else STOPPED, None, details)

    # -- Provider --------------------------------------------------------

    def status(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        wanted = self._checked_names(names)
        found = self.containers()
        key = self.stack.state_dir / "id_ed25519"
        return [self._state(name, found.get(name), key) for name in wanted]

    def start(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        wanted = self._checked_names(names)
        if not wanted:
            return []
        found = self.containers()
        mine = self._stack_file()
        for name in wanted:
            other = found.get(name)
            if other and other.stack_file and other.stack_file != mine:
                raise UserError(
                    f"container {other.name} belongs to another stack file ({other.stack_file})",
                    self.stack.where("stack", "name"),
                    hint="give this stack another name, or destroy the other stack's instances",
                )
        options = {name: self.options_for(name) for name in wanted}
        default_image = None
        if any(not opts.get("image") for name, opts in options.items() if name not in found):
            default_image = ensure_image(progress=self.progress)
        key_path, public = ensure_key(self.stack.state_dir)

        def bring_up(name: str) -> InstanceState:
            image = options[name].get("image") or default_image or ""
            return self._bring_up(name, found.get(name), image, key_path, public)

        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(wanted))) as pool:
            futures = [pool.submit(bring_up, name) for name in wanted]
            results: list[InstanceState] = []
            errors: list[RunnerError] = []
            for future in futures:
                try:
                    results.append(future.result())
                except RunnerError as exc:
                    errors.append(exc)
        _raise_all(errors)
        return results

    def run_settings(self, name: str, image: str, public: str) -> dict[str, Any]:
        """The keyword arguments of ``containers.run`` for an instance's new container.

        ``image``, ``privileged`` and ``memory`` come from the instance's own provider
        options (over its layers', over the stack's).
        """
        inst = self.stack.instances[name]
        options = self.options_for(name)
        settings: dict[str, Any] = {
            "image": image,
            "detach": True,
            "init": True,
            "name": self.container_name(name),
            "hostname": inst.hostname,
            # (LOOPBACK,): bound to 127.0.0.1 on a port Docker picks
            "ports": {f"{port}/tcp": (LOOPBACK,) for port in (22, *inst.ports)},
            "environment": {"RUNNER_AUTHORIZED_KEY": public},
            "labels": {
                LABEL_STACK: self.stack.name,
                LABEL_INSTANCE: name,
                LABEL_LAYERS: ",".join(inst.layers),
                LABEL_STACK_FILE: self._stack_file(),
            },
        }
        if options.get("privileged"):
            settings["privileged"] = True
        if "memory" in options:
            settings["mem_limit"] = options["memory"]
        return settings

    def _bring_up(self, name: str, container: Container | None, image: str, key: Path, public: str) -> InstanceState:
        cname = self.container_name(name)
        if container is None:
            with calling(f"run {cname}", RUN_TIMEOUT):
                client(RUN_TIMEOUT).containers.run(**self.run_settings(name, image, public))
        elif container.state == "paused":
            with calling(f"unpause {cname}"):
                client().api.unpause(cname)
        elif container.state != "running":
            with calling(f"start {cname}"):
                client().api.start(cname)
        with calling(f"inspect {cname}"):  # after the start: ports are published by it
            attrs = client().api.inspect_container(cname)
        published = _published((attrs.get("NetworkSettings") or {}).get("Ports"))
        if 22 not in published:
            ports = (attrs.get("NetworkSettings") or {}).get("Ports")
            raise HostError(name, f"container {cname} publishes no port for sshd (its ports: {ports!r})")
        port = published.pop(22)
        self._wait_for_ssh(name, cname, port)
        host_key = self._exec(cname, ["cat", HOST_KEY_FILE])
        known_hosts.record(self.stack.known_hosts_path, LOOPBACK, port, host_key, comment=cname)
        ip = _first_ip((attrs.get("NetworkSettings") or {}).get("Networks"))
        return InstanceState(name, ONLINE, self._host(name, port, key, ip, published),
                             {"container": cname, "docker_state": "running"})

    @staticmethod
    def _exec(cname: str, argv: list[str], timeout: float = 30.0) -> str:
        """``argv`` run in the container (as root, no shell); its standard output, stripped."""
        with calling(f"exec {cname} {argv[0]}", timeout):
            api = client(timeout).api
            exec_id = api.exec_create(cname, argv, stdout=True, stderr=True)["Id"]
            out = api.exec_start(exec_id)
            code = api.exec_inspect(exec_id).get("ExitCode")
        text = out.decode(errors="replace").strip() if isinstance(out, bytes) else str(out or "").strip()
        if code != 0:
            raise DockerError(f"exec {cname} {' '.join(argv)}", f"exited with {code}", text)
        return text

    def _wait_for_ssh(self, name: str, cname: str, port: int, timeout: float = SSH_READY_TIMEOUT) -> None:
        """Wait until sshd sends its ``SSH-`` banner; fail early when the container has exited."""
        deadline = time.monotonic() + timeout
        next_check = time.monotonic() + 2.0
        while True:
            if _banner(port):
                return
            now = time.monotonic()
            if now >= deadline:
                raise HostError(name, f"sshd in {cname} did not answer on {LOOPBACK}:{port} within {timeout:g} s"
                                + _logs(cname), cause="timeout")
            if now >= next_check:
                next_check = now + 2.0
                state = None
                with suppress(DockerError), calling(f"inspect {cname}"):
                    state = client().api.inspect_container(cname).get("State", {}).get("Status")
                if state is not None and state not in ("running", "created", "restarting"):
                    raise HostError(name, f"container {cname} stopped while starting" + _logs(cname))
            time.sleep(0.1)

    def stop(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        wanted = self._checked_names(names)
        found = self.containers()
        running = [found[n].name for n in wanted if n in found and found[n].state in ("running", "restarting",
                                                                                      "paused")]

        def stop_one(cname: str) -> None:
            with calling(f"stop {cname}", DEFAULT_TIMEOUT + STOP_TIMEOUT):
                with suppress(not_found()):
                    client().api.stop(cname, timeout=STOP_TIMEOUT)  # the SDK adds STOP_TIMEOUT to its own

        _parallel(stop_one, running)
        return self.status(wanted)

    def destroy(self, names: Sequence[str] | None = None) -> None:
        wanted = self._checked_names(names)
        found = self.containers()
        doomed = [found[n] for n in wanted if n in found]

        def remove(cname: str) -> None:
            with calling(f"rm --force {cname}", 120.0):
                with suppress(not_found()):
                    client(120.0).api.remove_container(cname, force=True)

        _parallel(remove, [c.name for c in doomed])
        known_hosts.forget(
            self.stack.known_hosts_path,
            hosts=[(LOOPBACK, c.port) for c in doomed if c.port],
            comments=[self.container_name(n) for n in wanted],
        )


def _banner(port: int) -> bool:
    """True when something on the port speaks SSH (docker's proxy accepts before sshd listens)."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1.0) as sock:
            sock.settimeout(1.0)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _logs(cname: str) -> str:
    """``; its log ends: ...`` (the container's last 20 lines), or "" when there are none to get."""
    text = ""
    with suppress(DockerError, UserError), calling(f"logs {cname}", 30.0):
        raw = client(30.0).api.logs(cname, stdout=True, stderr=True, tail=20)
        text = (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)).strip()
    return f"; its log ends:\n{text}" if text else ""
