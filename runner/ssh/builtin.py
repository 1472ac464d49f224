"""The built-in SSH transports, registered like a third-party plugin's: ``paramiko`` and ``openssh``."""

from __future__ import annotations

from runner import hookimpl
from runner.ssh.api import Transport
from runner.ssh.connection import ParamikoConnection
from runner.ssh.openssh import OpenSshConnection


@hookimpl
def runner_transports() -> list[type[Transport]]:
    return [ParamikoConnection, OpenSshConnection]
