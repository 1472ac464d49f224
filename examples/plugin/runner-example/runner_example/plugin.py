"""The module the ``runner`` entry point names: one hookimpl per thing the plugin adds."""

from __future__ import annotations

from runner import hookimpl
from runner_example.canary import Canary
from runner_example.line_in_file import LineInFile


@hookimpl
def runner_resource_types():
    return [LineInFile]


@hookimpl
def runner_strategies():
    return [Canary]
