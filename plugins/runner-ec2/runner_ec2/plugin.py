"""The plugin module of runner-ec2 (entry point ``ec2`` in group ``runner``): adds the ``ec2`` provider."""

from __future__ import annotations

from runner import hookimpl
from runner.providers.api import Provider
from runner_ec2.provider import Ec2Provider


@hookimpl
def runner_providers() -> list[type[Provider]]:
    return [Ec2Provider]
