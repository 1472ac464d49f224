"""Executors: where the per-host work of a recipe run happens.

A run compiles every host's job on the controller (recipes, templates, file
payloads, the setup record, redaction, events and the report all stay
there); an executor then runs the jobs and hands back each host's
:class:`~runner.engine.outcome.HostOutcome` as that host finishes. The
built-in ``local`` one (:mod:`runner.engine.local`) runs them in this
process's threads; a plugin may add one on a distributed engine (the
``runner-dask`` plugin's ``dask://HOST:PORT``) through the
``runner_executors`` hook. An executor is named by a URL whose scheme picks
the class: ``--executor dask://127.0.0.1:8786``, ``--executor local``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from runner.engine.host import HostJob, HostOptions
from runner.engine.outcome import HostOutcome
from runner.ssh.group import DEFAULT_PARALLEL, HostGroup

#: the executor a run uses when none is named
DEFAULT_EXECUTOR = "local"

OnDone = Callable[[HostOutcome], None]


def scheme_of(url: str) -> str:
    """The scheme of an executor URL: ``dask`` for ``dask://h:8786``; a bare word is its own scheme."""
    return url.split("://", 1)[0].strip().lower()


class Executor:
    """Runs host jobs somewhere; one instance per run (``with`` opens and closes it).

    Subclasses set :attr:`scheme` and implement :meth:`run`; :meth:`open` reaches whatever
    the executor runs on (a cluster's scheduler) and raises :class:`runner.errors.UserError`
    when it cannot, before any host is touched.
    """

    #: the URL scheme this executor serves (``local``, ``dask``)
    scheme: ClassVar[str] = ""
    #: one line for ``runner plugins``
    description: ClassVar[str] = ""
    #: True when the jobs' connections are opened in this process: the run then starts
    #: connecting while the recipes compile
    connects_here: ClassVar[bool] = False

    def __init__(self, url: str, parallel: int = DEFAULT_PARALLEL):
        self.url = url
        self.parallel = max(1, parallel)

    def __enter__(self) -> "Executor":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Get ready to run jobs (connect to a cluster); raises UserError when that cannot be done."""

    def close(self) -> None:
        """Let go of what :meth:`open` took."""

    def run(self, jobs: Sequence[HostJob], group: HostGroup, options: HostOptions,
            on_done: OnDone = lambda outcome: None) -> list[HostOutcome]:
        """Run every job on its host; return every outcome (in any order).

        ``group.targets`` holds each job's :class:`~runner.ssh.target.SshTarget` by the
        job's name (a local executor also connects through the group). ``options``'
        callbacks (log, on_changed, on_setup) must be called in this process, in the order
        the host did things, and ``on_done`` once per host as soon as it is done. A host's
        failure is in its outcome and never stops the others.

        :raises runner.errors.RunInterrupted: on Ctrl-C, naming the hosts that may be half-converged.
        """
        raise NotImplementedError
