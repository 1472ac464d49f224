"""The built-in ``haproxy`` balancer: HAProxy on the lb instances, driven through its runtime API.

Servers of the backend are named by instance name (cookbooks/haproxy does
so). :meth:`HaproxyBalancer.drain` sets each server to ``drain`` (no new
sessions), waits until its current sessions (``scur`` of ``show stat``) are
0 on every lb instance, at most ``timeout`` seconds, then sets it to
``maint``: it gets no traffic at all and no health checks. Sessions still
open at the timeout are cut (``shutdown sessions server``). :meth:`enable`
sets ``ready``. Admin states survive a reload when the config keeps them in a
server-state file (cookbooks/haproxy does).

Options (``load_balancer.options``): ``socket`` (the admin socket, default
/run/haproxy/admin.sock), ``poll_interval`` (seconds between session counts
while draining, default 0.5).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from typing import Any

from runner import hookimpl
from runner.balancers.api import (
    DRAIN,
    MAINT,
    READY,
    BalancerError,
    BalancerSettings,
    LoadBalancer,
    ServerStatus,
    worst,
)
from runner.balancers.haproxy_output import OutputError, ServerStat, ServerState, is_up, parse_servers_state, parse_stat
from runner.balancers.haproxy_runtime import checked_name, run_runtime
from runner.errors import UserError
from runner.ssh.api import Transport as Connection

DEFAULT_SOCKET = "/run/haproxy/admin.sock"
OPTIONS: dict[str, tuple[type, ...]] = {"socket": (str,), "poll_interval": (int, float)}


class HaproxyBalancer(LoadBalancer):
    name = "haproxy"
    description = "HAProxy on the lb layer's instances, through its admin socket"

    def __init__(self, settings: BalancerSettings, connections: dict[str, Connection]) -> None:
        super().__init__(settings, connections)
        options = _checked_options(settings.options)
        self.socket: str = options.get("socket", DEFAULT_SOCKET)
        self.poll_interval = float(options.get("poll_interval", 0.5))
        self.backend = checked_name(settings.backend, "backend")

    # -- LoadBalancer ----------------------------------------------------

    def drain(self, servers: Sequence[str], timeout: float = 30.0) -> None:
        names = self._names(servers)
        if not names:
            return
        self._set_state(names, DRAIN)
        busy = self._wait_idle(names, timeout)
        self._set_state(names, MAINT)
        for host, still in busy.items():  # out of time: cut what is left
            self._run(host, [f"shutdown sessions server {self.backend}/{s}" for s in still])

    def enable(self, servers: Sequence[str]) -> None:
        names = self._names(servers)
        if names:
            self._set_state(names, READY)

    def enable_command(self, servers: Sequence[str]) -> str | None:
        names = self._names(servers)
        if not names:
            return None
        runtime = "; ".join(f"set server {self.backend}/{s} state {READY}" for s in names)
        return f"echo {shlex.quote(runtime)} | socat stdio {shlex.quote('UNIX-CONNECT:' + self.socket)}"

    def states(self) -> dict[str, str]:
        return {name: status.admin for name, status in self.server_status().items()}

    def server_status(self) -> dict[str, ServerStatus]:
        seen = {host: self._read(host) for host in self.connections}
        servers = list(dict.fromkeys(name for states, _ in seen.values() for name in states))
        result = {}
        for name in servers:
            admins, ups, sessions = [], [], 0
            for states, stats in seen.values():
                state, stat = states.get(name), stats.get(name)
                admins.append(state.admin if state else MAINT)  # unknown to this lb: it sends no traffic there
                ups.append(is_up(stat.status) if stat else None)
                sessions += stat.sessions if stat else 0
            up = False if False in ups else (True if ups and all(ups) else None)
            result[name] = ServerStatus(name, worst(admins), up, sessions)
        return result

    # -- helpers ---------------------------------------------------------

    def _names(self, servers: Sequence[str]) -> list[str]:
        if isinstance(servers, str):
            servers = [servers]
        return [checked_name(s, "server") for s in dict.fromkeys(servers)]

    def _run(self, host: str, commands: list[str]) -> list[str]:
        return run_runtime(self.connections[host], self.socket, commands)

    def _set_state(self, servers: list[str], state: str) -> None:
        commands = [f"set server {self.backend}/{s} state {state}" for s in servers]
        for host in self.connections:
            for command, answer in zip(commands, self._run(host, commands), strict=True):
                if answer.strip():  # HAProxy says nothing when it obeys
                    raise BalancerError(f"`{command}` failed: {answer.strip()}", host)

    def _read(self, host: str) -> tuple[dict[str, ServerState], dict[str, ServerStat]]:
        commands = [f"show servers state {self.backend}", f"show stat {self.backend} 4 -1"]
        state_text, stat_text = self._run(host, commands)
        try:
            states = {s.server: s for s in parse_servers_state(state_text) if s.backend == self.backend}
            stats = {s.server: s for s in parse_stat(stat_text) if s.backend == self.backend}
        except OutputError as exc:
            raise BalancerError(f"backend {self.backend!r}: {exc}", host) from None
        return states, stats

    def _sessions(self, host: str, servers: list[str]) -> dict[str, int]:
        (text,) = self._run(host, [f"show stat {self.backend} 4 -1"])
        try:
            stats = {s.server: s.sessions for s in parse_stat(text) if s.backend == self.backend}
        except OutputError as exc:
            raise BalancerError(f"backend {self.backend!r}: {exc}", host) from None
        return {s: stats.get(s, 0) for s in servers}

    def _wait_idle(self, servers: list[str], timeout: float) -> dict[str, list[str]]:
        """Wait until no lb host has a session on ``servers``; what is still busy at the deadline."""
        deadline = time.monotonic() + max(0.0, timeout)
        pending = list(self.connections)
        busy: dict[str, list[str]] = {}
        while True:
            busy = {}
            for host in pending:
                left = [s for s, n in self._sessions(host, servers).items() if n > 0]
                if left:
                    busy[host] = left
            pending = list(busy)
            if not pending or time.monotonic() >= deadline:
                return busy
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))


def _checked_options(options: dict[str, Any]) -> dict[str, Any]:
    for key, value in options.items():
        if key not in OPTIONS:
            raise UserError(f"unknown haproxy balancer option {key!r}", hint=f"known: {', '.join(OPTIONS)}")
        types = OPTIONS[key]
        if not isinstance(value, types) or isinstance(value, bool):
            wanted = " or ".join(t.__name__ for t in types)
            raise UserError(f"haproxy balancer option {key!r} must be a {wanted}, not {type(value).__name__}")
    if "poll_interval" in options and options["poll_interval"] <= 0:
        raise UserError("haproxy balancer option 'poll_interval' must be more than 0")
    return options


@hookimpl
def runner_load_balancers() -> list[type[LoadBalancer]]:
    return [HaproxyBalancer]
