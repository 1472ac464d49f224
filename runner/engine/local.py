"""The built-in executor: every host's job in a thread of this process (``--executor local``, the default)."""

from __future__ import annotations

from collections.abc import Sequence

from runner import hookimpl
from runner.engine.executor import Executor, OnDone
from runner.engine.host import HostJob, HostOptions
from runner.engine.outcome import HostOutcome
from runner.engine.run import run_jobs
from runner.ssh.group import HostGroup


class LocalExecutor(Executor):
    """Threads of this process, at most ``--parallel`` hosts at a time, over the run's HostGroup."""

    scheme = "local"
    description = "every host in a thread of this process (the default)"
    connects_here = True

    def run(self, jobs: Sequence[HostJob], group: HostGroup, options: HostOptions,
            on_done: OnDone = lambda outcome: None) -> list[HostOutcome]:
        return run_jobs(jobs, group, options, on_done)


@hookimpl
def runner_executors() -> list[type[Executor]]:
    return [LocalExecutor]
