"""Open the load balancer of an app: find the lb layer's online instances and connect to each.

Deploy-level orchestration: it picks the balancer class from the plugin
registry and asks the stack's provider which lb instances are online, so it
sits above both (the balancers themselves know neither).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from runner.balancers.api import BalancerError, LoadBalancer
from runner.errors import HostError, UserError
from runner.model.stack import App, Stack
from runner.plugin.registry import Registry
from runner.providers.api import InstanceState
from runner.ssh import pool
from runner.ssh.api import Transport as Connection
from runner.ssh.pool import open_connection
from runner.ssh.target import SshTarget, resolve_target


def open_balancer(
    stack: Stack,
    registry: Registry,
    app: App | str,
    provider_states: Sequence[InstanceState] | None = None,
) -> LoadBalancer | None:
    """The app's balancer with a connection to every online instance of its layer; None when it has none.

    Close it with ``close()`` or use it in a ``with`` block.

    :param app: the app, or its name.
    :param provider_states: the provider's states of (at least) the lb layer's
        instances, when the caller has them; else the stack's provider is asked.
    :raises UserError: an unknown balancer type or bad balancer options.
    :raises BalancerError: the lb layer has no online instance, or one cannot be reached.
    """
    if isinstance(app, str):
        app = stack.apps[app]
    settings = app.deploy.load_balancer
    if settings is None:
        return None
    where = stack.where("apps", app.name, "deploy", "load_balancer")
    try:
        balancer_class = registry.load_balancer(settings.type)
    except UserError as exc:
        raise UserError(exc.message, stack.where("apps", app.name, "deploy", "load_balancer", "type"),
                        exc.hint) from None
    members = [i.name for i in stack.instances_of(settings.layer)]
    if provider_states is None:
        provider_states = registry.provider(stack.provider)(stack).status(members) if members else []
    hosts = [s.host for s in provider_states if s.name in members and s.online]
    if not hosts:
        status = {s.name: s.status for s in provider_states}
        which = (", ".join(f"{m}: {status.get(m, 'unknown')}" for m in members) if members
                 else "the layer has no instances")
        raise BalancerError(f"app {app.name!r}: layer {settings.layer!r} has no online instance to run the "
                            f"{settings.type} balancer ({which}; {where})")
    connections: dict[str, Connection] = {}
    try:
        for host in hosts:
            connections[host.instance] = open_connection(resolve_target(stack, host))
        return balancer_class(settings, connections)
    except HostError as exc:
        _close(connections)
        raise BalancerError(exc.message, exc.host) from None
    except UserError as exc:
        _close(connections)
        if exc.location is None:  # the balancer's own check of its options
            raise UserError(exc.message, stack.where("apps", app.name, "deploy", "load_balancer", "options"),
                            exc.hint) from None
        raise
    except BaseException:
        _close(connections)
        raise


def _close(connections: dict[str, Connection]) -> None:
    for connection in connections.values():
        pool.put(connection)


def layers_without_instances(stack: Stack) -> list[str]:
    """Warnings: each app whose balancer's layer has no instances (a deploy that drains would fail)."""
    warnings = []
    for app in stack.apps.values():
        settings = app.deploy.load_balancer
        if settings is not None and not stack.instances_of(settings.layer):
            where = stack.where("apps", app.name, "deploy", "load_balancer")
            warnings.append(f"{where}: app {app.name!r}: the load balancer's layer {settings.layer!r} has no "
                            f"instances; strategies that use the balancer will fail (all_at_once does not)")
    return warnings


def put_back_commands(balancer: LoadBalancer, servers: Sequence[str]) -> dict[str, str]:
    """lb instance -> the command a person pastes (here, on the runner's machine) to put ``servers``
    back into rotation there; {} when the balancer offers no such command."""
    remote = balancer.enable_command(servers)
    if remote is None:
        return {}
    return {name: ssh_command(connection.target, remote) for name, connection in balancer.connections.items()}


def ssh_command(target: SshTarget, remote: str) -> str:
    """An OpenSSH command line that runs ``remote`` on ``target`` as the runner reaches it."""
    args = ["ssh", "-p", str(target.port)]
    for key in target.key_files:
        args += ["-i", str(key)]
    if target.known_hosts is not None:
        args += ["-o", f"UserKnownHostsFile={target.known_hosts}"]
    if target.host_key_policy == "off":
        args += ["-o", "StrictHostKeyChecking=no"]
    elif target.host_key_policy == "accept-new":
        args += ["-o", "StrictHostKeyChecking=accept-new"]
    if target.sudo:
        remote = f"sudo sh -c {shlex.quote(remote)}"
    args += [f"{target.user}@{target.address}", remote]
    return " ".join(shlex.quote(a) for a in args)
