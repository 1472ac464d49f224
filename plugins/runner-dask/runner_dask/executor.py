"""The ``dask`` executor: ``--executor dask://HOST:PORT`` runs each host's job on a worker of that cluster.

The controller compiles, then submits one task per host (at most ``--parallel``
in flight) to the scheduler at ``tcp://HOST:PORT``; a worker connects to the
host over SSH and runs the job (:mod:`runner_dask.worker`). Each result is taken
as it comes back (``distributed.as_completed``): its log lines and changed
resources are replayed on the controller, then the host is done. A task that
fails (its worker died, it could not be sent) fails its host alone, with cause
``executor``. Jobs whose setup deploys apps stay on the controller (see
:func:`runner.engine.remote.portable`).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from runner.engine.executor import Executor, OnDone
from runner.engine.host import HostJob, HostOptions
from runner.engine.outcome import HostOutcome
from runner.engine.remote import EXECUTOR_CAUSE, RemoteJob, check_picklable, portable, replay
from runner.engine.run import run_jobs
from runner.errors import RunInterrupted, UserError
from runner.ssh.group import DEFAULT_PARALLEL, HostGroup

DEFAULT_PORT = 8786
#: how long reaching the scheduler, and then its first worker, may take
CONNECT_TIMEOUT = 10.0
HINT = ("start one with `dask scheduler --port PORT` and workers with `dask worker tcp://HOST:PORT`, "
        "runner-dask installed where they run; or run without --executor")


def scheduler_address(url: str) -> str:
    """``dask://HOST:PORT`` -> ``tcp://HOST:PORT`` (the port defaults to 8786)."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise UserError(f"executor {url!r}: {exc}", hint="give dask://HOST:PORT") from None
    if parts.scheme.lower() != "dask" or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise UserError(f"executor {url!r}: expected dask://HOST:PORT", hint="e.g. dask://127.0.0.1:8786")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"tcp://{host}:{port}"


class DaskExecutor(Executor):
    scheme = "dask"
    description = "each host's job on a worker of a Dask cluster: dask://SCHEDULER_HOST:PORT"
    connects_here = False

    def __init__(self, url: str, parallel: int = DEFAULT_PARALLEL):
        super().__init__(url, parallel)
        self.address = scheduler_address(url)
        self.client: Any = None

    def open(self) -> None:
        from distributed import Client

        try:
            self.client = Client(self.address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise UserError(f"executor {self.url}: cannot reach the Dask scheduler at {self.address}: {exc}",
                            hint=HINT) from None
        try:
            self.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError):
            self.close()
            raise UserError(f"executor {self.url}: the Dask scheduler at {self.address} has no worker "
                            f"(waited {CONNECT_TIMEOUT:.0f} s)", hint=HINT) from None

    def close(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            client.close()

    def run(self, jobs: Sequence[HostJob], group: HostGroup, options: HostOptions,
            on_done: OnDone = lambda outcome: None) -> list[HostOutcome]:
        outcomes: list[HostOutcome] = []
        lock = threading.Lock()

        def done(outcome: HostOutcome) -> None:
            with lock:
                outcomes.append(outcome)
            on_done(outcome)

        here = [job for job in jobs if not portable(job)]
        for job in here:
            options.log(job.name, "runs on the controller, not on a worker: its setup deploys apps "
                                  "(every host joining in this run shares one view of their releases)")
        tasks = [RemoteJob.of(job, group.targets[job.name], options) for job in jobs if portable(job)]
        pool = ThreadPoolExecutor(max_workers=1) if here else None
        local = pool.submit(run_jobs, here, group, options, done) if pool is not None else None
        in_flight: dict[str, str] = {}  # task key -> host
        try:
            self._run_remote(tasks, options, done, in_flight)
            if local is not None:
                local.result()
        except KeyboardInterrupt:  # the hosts under way may be half-converged: those on workers, those here
            group.abort()
            finished = {o.host for o in outcomes}
            raise RunInterrupted((*in_flight.values(), *(j.name for j in here if j.name not in finished))) from None
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        return outcomes

    def _run_remote(self, tasks: list[RemoteJob], options: HostOptions, done: OnDone,
                    in_flight: dict[str, str]) -> None:
        """Submit the tasks (at most ``parallel`` in flight) and take each result as it comes."""
        from distributed import Event, as_completed

        from runner_dask.worker import run_on_worker

        queue = list(reversed(tasks))
        futures: dict[str, Any] = {}
        completed = as_completed(loop=self.client.loop)
        run_id = uuid.uuid4().hex[:8]
        stop = f"runner-stop-{run_id}"  # set on Ctrl-C: the running tasks abort their connections

        def submit_next() -> None:
            while queue:
                task = queue.pop()
                why = check_picklable(task)
                if why is not None:
                    done(HostOutcome(task.job.name, error=why, cause=EXECUTOR_CAUSE))
                    continue
                key = f"runner-{run_id}-{task.job.name}"
                future = self.client.submit(run_on_worker, task, stop, key=key, pure=False, retries=0)
                in_flight[key], futures[key] = task.job.name, future
                completed.add(future)
                return

        try:
            for _ in range(self.parallel):
                submit_next()
            for future in completed:
                host = in_flight.pop(future.key)
                futures.pop(future.key)
                done(self._outcome(future, host, options))
                submit_next()
        except BaseException:
            if futures:
                self.client.cancel(list(futures.values()))
                try:
                    Event(stop, client=self.client).set()
                except Exception:  # the scheduler is gone too: the tasks went with it
                    pass
            raise

    def _outcome(self, future: Any, host: str, options: HostOptions) -> HostOutcome:
        """The host's outcome from its finished task, with what it logged replayed on the controller."""
        try:
            result = future.result()
        except Exception as exc:  # the worker died (KilledWorker), the task was lost or could not run
            why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            options.log(host, f"its Dask task failed: {why}")
            return HostOutcome(host, error=f"the dask executor failed to run it: {why}", cause=EXECUTOR_CAUSE)
        options.log(host, f"runs on dask worker {result.where}")
        replay(result, options)
        return result.outcome
