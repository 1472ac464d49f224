"""What a Dask worker runs for one host: the core's :func:`runner.engine.remote.run_remote`, and where it ran.

The worker imports this module (and runner, and the resource types' plugins) by name when the task
arrives: runner-dask must be installed on every worker.
"""

from __future__ import annotations

from runner.engine.remote import RemoteJob, RemoteResult, run_remote


def run_on_worker(task: RemoteJob) -> RemoteResult:
    """Connect to the task's host from this worker, run its job, return the outcome and what it logged."""
    from distributed import get_worker

    result = run_remote(task)
    try:
        result.where = get_worker().address
    except ValueError:  # not on a worker (called directly)
        result.where = "(not a dask worker)"
    return result
