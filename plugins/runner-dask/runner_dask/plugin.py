"""The plugin module of runner-dask (entry point ``dask`` in group ``runner``): adds the ``dask`` executor."""

from __future__ import annotations

from runner import hookimpl
from runner.engine.executor import Executor
from runner_dask.executor import DaskExecutor


@hookimpl
def runner_executors() -> list[type[Executor]]:
    return [DaskExecutor]
