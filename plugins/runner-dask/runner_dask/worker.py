"""What a Dask worker runs for one host: the core's :func:`runner.engine.remote.run_remote`, and where it ran.

The worker imports this module (and runner, and the resource types' plugins) by name when the task
arrives: runner-dask must be installed on every worker.

Dask cannot stop a task that is running, so the job runs in a thread of its own while the task's
thread waits on the run's stop event (a ``distributed.Event`` the controller sets on Ctrl-C); when
it is set, the host's connection is aborted and the job ends within moments, as a local run's does.
"""

from __future__ import annotations

import threading

from runner.engine.remote import RemoteJob, RemoteResult, run_remote
from runner.ssh.group import HostGroup

#: how long one wait on the stop event lasts (a long poll at the scheduler) before the job is looked at again
STOP_POLL = 2.0


def run_on_worker(task: RemoteJob, stop: str | None = None) -> RemoteResult:
    """Connect to the task's host from this worker, run its job, return the outcome and what it logged.

    ``stop``: the name of the run's stop event; None: the job cannot be stopped.
    """
    from distributed import Event, get_worker

    groups: list[HostGroup] = []
    box: dict[str, RemoteResult | BaseException] = {}

    def job() -> None:
        try:
            box["result"] = run_remote(task, on_group=groups.append)
        except BaseException as exc:  # handed to the task's thread, which raises it to Dask
            box["error"] = exc

    runner = threading.Thread(target=job, name=f"runner {task.job.name}", daemon=True)
    runner.start()
    event = Event(stop) if stop is not None else None
    while runner.is_alive():
        if event is None:
            runner.join()
        elif _stopped(event):
            for group in groups:
                group.abort()
            runner.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    result = box["result"]
    assert isinstance(result, RemoteResult)
    try:
        result.where = get_worker().address
    except ValueError:  # not on a worker (called directly)
        result.where = "(not a dask worker)"
    return result


def _stopped(event) -> bool:
    """Whether the run's stop event was set within :data:`STOP_POLL` (a scheduler that went away: no)."""
    try:
        return bool(event.wait(timeout=STOP_POLL))
    except Exception:  # the scheduler is gone: nobody can ask to stop any more; the job goes on
        return False
