"""The ``docker`` provider: each instance of a stack is a local container running sshd.

Containers are named ``runner-<stack>-<instance>`` and labelled with the
stack, instance, layers and stack file, so one ``docker ps`` tells the state of
a whole stack. sshd, and the service ports an instance lists (``ports: [80]``),
are published on 127.0.0.1 only, each on a port Docker picks. Published ports
are fixed when a container is created: a port added later needs a new one
(``runner instances destroy`` then ``converge``).

Host keys are read from the container with ``docker exec`` (a channel we
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.errors import HostError, RunnerError, UserError
from runner.model.stack import Stack
from runner.providers.api import MISSING, ONLINE, STOPPED, HostAddress, InstanceState, Provider
from runner.ssh import known_hosts
from runner_docker.docker_cli import docker, output
from runner_docker.image import ensure_image
from runner_docker.keys import ensure_key

LOOPBACK = "127.0.0.1"
SSH_READY_TIMEOUT = 30.0
STOP_TIMEOUT = 5
MAX_PARALLEL = 16
HOST_KEY_FILE = "/etc/ssh/ssh_host_ed25519_key.pub"

LABEL_STACK = "runner.stack"
LABEL_INSTANCE = "runner.instance"
LABEL_LAYERS = "runner.layers"
LABEL_STACK_FILE = "runner.stack_file"

#: provider_options keys in stack.yml and the type each must have.
OPTIONS: dict[str, tuple[type, ...]] = {"image": (str,), "privileged": (bool,), "memory": (str, int)}

_PUBLISHED = re.compile(r"127\.0\.0\.1:(\d+)->(\d+)/tcp")
_STATES = {"running": ONLINE, "created": STOPPED, "exited": STOPPED, "dead": STOPPED}


def sanitize(text: str) -> str:
    """``text`` made fit for a container name (``[a-zA-Z0-9][a-zA-Z0-9_.-]*``)."""
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-.")
    return cleaned or "x"


@dataclass(frozen=True)
class Container:
    """One row of ``docker ps`` for this stack."""

    name: str
    instance: str
    state: str  # docker's word: running, exited, created, ...
    port: int | None
    stack_file: str
    published: dict[int, int] = field(default_factory=dict)  # container port -> 127.0.0.1 port (not sshd)


def _progress(line: str) -> None:
    print(line, file=sys.stderr)


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
        """This stack's containers by instance name, from one ``docker ps``."""
        fmt = "\t".join(
            ["{{.Names}}", "{{.State}}", f'{{{{.Label "{LABEL_INSTANCE}"}}}}', f'{{{{.Label "{LABEL_STACK_FILE}"}}}}',
             "{{.Ports}}"]
        )
        text = docker("ps", "-a", "--no-trunc", "--filter", f"label={LABEL_STACK}={self.stack.name}",
                      "--format", fmt).stdout  # not stripped: a stopped container's last field is empty
        found: dict[str, Container] = {}
        for row in text.splitlines():
            parts = row.split("\t")
            if len(parts) < 4 or not parts[2]:
                continue
            name, state, instance, stack_file, ports = (parts + [""])[:5]
            published = {int(inner): int(outer) for outer, inner in _PUBLISHED.findall(ports)}
            ssh_port = published.pop(22, None)
            found[instance] = Container(name, instance, state, ssh_port, stack_file, published)
        return found

    def _host(self, instance: str, port: int, key: Path, ip: str | None = None,
              published: dict[int, int] | None = None) -> HostAddress:
        hostname = self.stack.instances[instance].hostname if instance in self.stack.instances else instance
        return HostAddress(instance, hostname, LOOPBACK, port, user=None, key=key, private_address=ip,
                           ports=dict(published or {}))

    @staticmethod
    def addresses(container_names: Sequence[str]) -> dict[str, str]:
        """Container name -> its address on Docker's network (what other containers connect to)."""
        if not container_names:
            return {}
        fmt = "{{.Name}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
        text = docker("inspect", "--format", fmt, *container_names, check=False, timeout=60).stdout
        found = {}
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                found[parts[0].lstrip("/")] = parts[1]
        return found

    def _state(self, instance: str, container: Container | None, key: Path,
               ips: dict[str, str] | None = None) -> InstanceState:
        if container is None:
            return InstanceState(instance, MISSING)
        status = _STATES.get(container.state, container.state)
        details = {"container": container.name, "docker_state": container.state}
        if status == ONLINE and container.port:
            ip = (ips or {}).get(container.name)
            host = self._host(instance, container.port, key, ip, container.published)
            return InstanceState(instance, ONLINE, host, details)
        return InstanceState(instance, status if status != ONLINE else STOPPED, None, details)

    # -- Provider --------------------------------------------------------

    def status(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        wanted = self._checked_names(names)
        found = self.containers()
        key = self.stack.state_dir / "id_ed25519"
        ips = self.addresses([c.name for n, c in found.items() if n in wanted and c.state == "running"])
        return [self._state(name, found.get(name), key, ips) for name in wanted]

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
        image = self.options.get("image") or ensure_image(progress=self.progress)
        key_path, public = ensure_key(self.stack.state_dir)

        def bring_up(name: str) -> InstanceState:
            return self._bring_up(name, found.get(name), image, key_path, public)

        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(wanted))) as pool:
            futures = [pool.submit(bring_up, name) for name in wanted]
            results: list[InstanceState] = []
            errors: list[BaseException] = []
            for future in futures:
                try:
                    results.append(future.result())
                except RunnerError as exc:
                    errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise RunnerError("\n".join(str(e) for e in errors))
        return results

    def _run_argv(self, name: str, image: str, public: str) -> list[str]:
        inst = self.stack.instances[name]
        argv = ["run", "--detach", "--init", "--name", self.container_name(name), "--hostname", inst.hostname,
                "--publish", f"{LOOPBACK}::22", *[a for p in inst.ports for a in ("--publish", f"{LOOPBACK}::{p}")],
                "--env", f"RUNNER_AUTHORIZED_KEY={public}",
                "--label", f"{LABEL_STACK}={self.stack.name}", "--label", f"{LABEL_INSTANCE}={name}",
                "--label", f"{LABEL_LAYERS}={','.join(inst.layers)}",
                "--label", f"{LABEL_STACK_FILE}={self._stack_file()}"]
        if self.options.get("privileged"):
            argv.append("--privileged")
        if "memory" in self.options:
            argv += ["--memory", str(self.options["memory"])]
        return [*argv, image]

    def _bring_up(self, name: str, container: Container | None, image: str, key: Path, public: str) -> InstanceState:
        cname = self.container_name(name)
        if container is None:
            docker(*self._run_argv(name, image, public), timeout=120)
        elif container.state != "running":
            docker("start", cname, timeout=60)
        published = self._published_ports(name, cname)
        port = published.pop(22)
        self._wait_for_ssh(name, cname, port)
        host_key = output("exec", cname, "cat", HOST_KEY_FILE, timeout=30)
        known_hosts.record(self.stack.known_hosts_path, LOOPBACK, port, host_key, comment=cname)
        ip = self.addresses([cname]).get(cname)
        return InstanceState(name, ONLINE, self._host(name, port, key, ip, published),
                             {"container": cname, "docker_state": "running"})

    def _published_ports(self, name: str, cname: str) -> dict[int, int]:
        """Container port -> its port on 127.0.0.1, from ``docker port`` (sshd's is 22)."""
        text = output("port", cname, timeout=30)
        published = {}
        for line in text.splitlines():  # "80/tcp -> 127.0.0.1:32769"
            inner, _, outer = line.partition(" -> ")
            if outer.startswith(f"{LOOPBACK}:") and inner.endswith("/tcp"):
                published[int(inner[:-4])] = int(outer.rsplit(":", 1)[1])
        if 22 not in published:
            raise HostError(name, f"container {cname} publishes no port for sshd (docker port said {text!r})")
        return published

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
                state = docker("inspect", "--format", "{{.State.Status}}", cname, check=False, timeout=30)
                if state.returncode == 0 and state.stdout.strip() not in ("running", "created", "restarting"):
                    raise HostError(name, f"container {cname} stopped while starting" + _logs(cname))
            time.sleep(0.1)

    def stop(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        wanted = self._checked_names(names)
        found = self.containers()
        running = [found[n].name for n in wanted if n in found and found[n].state in ("running", "restarting")]
        if running:
            docker("stop", "--time", str(STOP_TIMEOUT), *running, timeout=STOP_TIMEOUT + 60)
        return self.status(wanted)

    def destroy(self, names: Sequence[str] | None = None) -> None:
        wanted = self._checked_names(names)
        found = self.containers()
        doomed = [found[n] for n in wanted if n in found]
        if doomed:
            docker("rm", "--force", *[c.name for c in doomed], timeout=120)
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
    proc = docker("logs", "--tail", "20", cname, check=False, timeout=30)
    text = (proc.stdout + proc.stderr).strip()
    return f"; its log ends:\n{text}" if text else ""
