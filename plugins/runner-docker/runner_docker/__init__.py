"""The docker provider for runner: stack instances as local containers running sshd."""

__version__ = "0.1.0"
