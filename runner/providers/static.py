"""The built-in ``static`` provider: instances are machines whose addresses stack.yml gives.

It cannot create or stop machines. Its status is a TCP connect to each
instance's SSH port (in parallel, one second each), so ``runner instances``
tells which hosts answer: ``online``, or ``connection_lost``.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from runner import hookimpl
from runner.errors import UserError
from runner.providers.api import CONNECTION_LOST, ONLINE, HostAddress, InstanceState, Provider


class StaticProvider(Provider):
    name = "static"
    description = "machines that already exist, at the addresses given in stack.yml"
    probe_timeout = 1.0
    can_heal = False  # registered machines: runner never restarts or replaces them

    def _address(self, name: str) -> HostAddress:
        inst = self.stack.instances[name]
        if not inst.address:
            raise UserError(f"instance {name!r} has no address", self.stack.where("instances", name),
                            hint="the static provider needs `address:` on every instance")
        return HostAddress(instance=name, hostname=inst.hostname, address=inst.address,
                           port=inst.port, user=inst.user, key=inst.key,
                           private_address=inst.address, ports={p: p for p in inst.ports})

    def _probe(self, host: HostAddress) -> InstanceState:
        port = host.port or self.stack.ssh.port or 22
        try:
            with socket.create_connection((host.address, port), timeout=self.probe_timeout):
                return InstanceState(host.instance, ONLINE, host)
        except OSError as exc:
            # the machine is there (stack.yml says so) and its SSH port does not answer
            return InstanceState(host.instance, CONNECTION_LOST, None, {"error": str(exc)})

    def status(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        hosts = [self._address(n) for n in self._names(names)]
        with ThreadPoolExecutor(max_workers=min(32, len(hosts) or 1)) as pool:
            return list(pool.map(self._probe, hosts))

    def start(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        return self.status(names)  # nothing to start: report what answers

    def stop(self, names: Sequence[str] | None = None) -> list[InstanceState]:
        raise UserError("the static provider cannot stop instances: they are machines it does not own",
                        hint="stop them by other means, or remove them from stack.yml")

    def hosts(self, names: Sequence[str] | None = None) -> list[HostAddress]:
        """Static hosts are reached at their addresses without probing first."""
        return [self._address(n) for n in self._names(names)]


@hookimpl
def runner_providers() -> list[type[Provider]]:
    return [StaticProvider]
