"""The built-in SSH transports, registered like a third-party plugin's: ``paramiko`` and ``openssh``.

``paramiko`` is registered by a stand-in that imports runner.ssh.connection (and paramiko
with it) when its first connection is made, so a run over ``openssh`` never pays that import.
"""

from __future__ import annotations

from runner import hookimpl
from runner.ssh.api import Transport
from runner.ssh.openssh import OpenSshConnection
from runner.ssh.target import SshTarget


class Paramiko(Transport):
    """The ``paramiko`` transport: making one makes a :class:`runner.ssh.connection.ParamikoConnection`."""

    name = "paramiko"

    def __new__(cls, target: SshTarget) -> Transport:  # type: ignore[misc]
        from runner.ssh.connection import ParamikoConnection

        return ParamikoConnection(target)  # not a Paramiko: its __init__ is not called again


@hookimpl
def runner_transports() -> list[type[Transport]]:
    return [Paramiko, OpenSshConnection]
