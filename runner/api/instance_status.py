"""An instance's OpsWorks status: what its provider says, overlaid with what only the runner knows.

A provider reports what the machine does (requested ... online ... stopped,
terminated, or its own word). Three statuses come from the runner itself:

* ``running_setup``: a setup (or a converge's setup part) is being applied to
  it now, by a runner process of this controller that is still alive;
* ``setup_failed``: its last setup failed, or the run doing it ended without
  finishing (its process is gone); the next converge sets it up again;
* ``connection_lost``: the provider says online, SSH cannot reach it (refused,
  no banner, timed out, authentication failed ...) when ``runner status``
  connected to it.

:func:`overlay` is the whole rule, pure; :func:`shown` is it with the running
setup's process looked up.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.api.setup_record import SetupEntry, run_alive
from runner.model.stack import Stack
from runner.providers.api import CONNECTION_LOST, ONLINE, RUNNING_SETUP, SETUP_FAILED, START_FAILED, InstanceState
from runner.watch import state as watch_state

#: the HostError causes (runner.ssh.connection) that mean SSH cannot reach the host; others (a key
#: that cannot be read, a changed host key, sudo) are the controller's problem and leave the status alone
CONNECTION_CAUSES = frozenset({"refused", "banner", "timeout", "connection-lost", "auth", "dns", "network", "ssh"})

STALE = "the run that set it up ended without finishing"


@dataclass(frozen=True)
class Shown:
    """The status to show, the provider's own word, and why the runner says otherwise (when it does)."""

    status: str
    provider_status: str
    reason: str | None = None

    @property
    def overridden(self) -> bool:
        return self.status != self.provider_status


def overlay(provider_status: str, online: bool, entry: SetupEntry | None = None, *, alive: bool = True,
            ssh_cause: str | None = None, ssh_error: str | None = None, gave_up: str | None = None) -> Shown:
    """The OpsWorks status of one instance.

    ``provider_status``/``online``: the provider's state (:attr:`InstanceState.online`);
    ``entry``: the instance's setup record, if any; ``alive``: whether the run that
    wrote a running_setup entry still runs; ``ssh_cause``/``ssh_error``: why
    connecting to it just failed (None: not tried, or it answered).

    An instance that is not online shows the provider's word whatever the record
    says (a stopped instance is stopped; its failed setup shows again once it is
    back). Online, in this order: connection_lost, running_setup (alive),
    setup_failed (recorded, or a running_setup whose run is gone), online.
    ``gave_up``: why ``runner watch`` stopped healing it; a down instance then shows start_failed.
    """
    if not online:
        if gave_up is not None:
            return Shown(START_FAILED, provider_status, gave_up)
        return Shown(provider_status, provider_status)
    if ssh_cause in CONNECTION_CAUSES:
        return Shown(CONNECTION_LOST, provider_status, ssh_error or ssh_cause)
    if entry is not None and entry.status == RUNNING_SETUP:
        if alive:
            return Shown(RUNNING_SETUP, provider_status, f"setup under way since {entry.since} (process {entry.pid})")
        return Shown(SETUP_FAILED, provider_status, STALE)
    if entry is not None and entry.status == SETUP_FAILED:
        return Shown(SETUP_FAILED, provider_status, entry.error or "setup failed")
    return Shown(ONLINE, provider_status)


def shown(state: InstanceState, entry: SetupEntry | None = None, *, ssh_cause: str | None = None,
          ssh_error: str | None = None, gave_up: str | None = None) -> Shown:
    """:func:`overlay` for a provider state, with a running setup's process looked up on this machine."""
    alive = entry is not None and entry.status == RUNNING_SETUP and run_alive(entry)
    return overlay(state.status, state.online, entry, alive=alive, ssh_cause=ssh_cause, ssh_error=ssh_error,
                   gave_up=gave_up)


def gave_up(stack: Stack) -> dict[str, str]:
    """Instances ``runner watch`` stopped healing (start_failed), and why."""
    heal = watch_state.for_stack(stack).read().heal
    return {name: entry.error or "auto-healing gave up" for name, entry in heal.items() if entry.start_failed}
