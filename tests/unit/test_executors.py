"""Executors without a cluster: the registry's lookup by URL scheme, the CLI's refusal of an unknown one, and
a plugin's executor that sends every job through pickle (as a worker would get it) and replays the results.

The hosts are static ones on 127.0.0.1 at a port that accepts TCP and hangs up: every connection fails, which
is all a run needs to go through an executor and back.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from net_support import listening_port
from test_api_session import write_stack

from runner import hookimpl
from runner.api import Progress, Session, UserError
from runner.engine.executor import Executor, OnDone, scheme_of
from runner.engine.host import HostJob, HostOptions
from runner.engine.local import LocalExecutor
from runner.engine.outcome import HostOutcome
from runner.engine.remote import RemoteJob, RemoteResult, check_picklable, portable, replay, run_remote
from runner.lifecycle import plan_run
from runner.model.lifecycle import CONFIGURE
from runner.plugin.manager import PluginOrigin
from runner.plugin.registry import Registry
from runner.ssh.group import HostGroup


@pytest.fixture
def mute_port():
    with listening_port(hang_up=True) as port:
        yield port


class PickledExecutor(Executor):
    """Each job pickled, unpickled, run by run_remote, its result pickled back and replayed: a worker's round trip."""

    scheme = "pickled"
    runs: list[list[str]] = []

    def run(self, jobs: Sequence[HostJob], group: HostGroup, options: HostOptions,
            on_done: OnDone = lambda outcome: None) -> list[HostOutcome]:
        PickledExecutor.runs.append([job.name for job in jobs])
        outcomes = []
        for job in jobs:
            sent = pickle.dumps(RemoteJob.of(job, group.targets[job.name], options))
            result: RemoteResult = pickle.loads(pickle.dumps(run_remote(pickle.loads(sent))))
            replay(result, options)
            on_done(result.outcome)
            outcomes.append(result.outcome)
        return outcomes


class ExecutorPlugin:
    @hookimpl
    def runner_executors(self) -> list[type[Executor]]:
        return [PickledExecutor]


def registry_with_plugin() -> Registry:
    base = Registry.load()
    base.pm.register(ExecutorPlugin(), name="pickled")
    origins = {info.origin.name: info.origin for info in base.plugins}
    origins["pickled"] = PluginOrigin("pickled", "test", "0", __name__, builtin=False)
    return Registry(base.pm, origins)


def test_the_local_executor_is_a_builtin_plugin_and_schemes_are_looked_up() -> None:
    registry = Registry.load()
    assert registry.executor("local") is LocalExecutor
    assert next(p for p in registry.plugins if p.origin.name == "local-executor").executors == ["local"]
    assert scheme_of("DASK://127.0.0.1:8786") == "dask" and scheme_of("local") == "local"
    with pytest.raises(UserError) as caught:
        registry.executor("ray://head:10001")
    assert "'ray'" in str(caught.value) and "local" in (caught.value.hint or "")


def test_an_unknown_scheme_is_exit_2_naming_the_known_ones(tmp_path: Path) -> None:
    stack = write_stack(tmp_path)
    for command in ("converge", "setup", "configure", "execute-recipes web", "plan"):
        proc = subprocess.run([sys.executable, "-m", "runner", *command.split(), "--executor", "nope://x:1",
                               "-f", str(stack)], capture_output=True, text=True, timeout=60, env=dict(os.environ))
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        assert "no executor serves 'nope' URLs" in proc.stderr and "known: " in proc.stderr, proc.stderr
        assert "dask://" in proc.stderr and "local" in proc.stderr and "Traceback" not in proc.stderr


def test_session_open_checks_the_scheme(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        Session.open(write_stack(tmp_path), executor="nope://x")


def test_local_by_name_is_the_default(tmp_path: Path, mute_port: int) -> None:
    with Session.open(write_stack(tmp_path, mute_port), executor="local") as session:
        report = session.configure()
    assert [o.host for o in report.hosts] == ["web1", "web2"] and all(o.error and o.cause for o in report.hosts)


def test_a_plugins_executor_runs_every_job_and_its_lines_are_replayed(tmp_path: Path, mute_port: int) -> None:
    events = []
    PickledExecutor.runs.clear()
    with Session.open(write_stack(tmp_path, mute_port), executor="pickled://anywhere",
                      registry=registry_with_plugin(), on_event=events.append) as session:
        report = session.configure()
    assert PickledExecutor.runs == [["web1", "web2"]]
    assert [o.host for o in report.hosts] == ["web1", "web2"] and not report.ok
    assert all(o.error and o.cause not in (None, "executor") for o in report.hosts), report.to_dict()
    lines = [(e.host, e.message) for e in events if isinstance(e, Progress)]
    assert ("web1", "connecting") in lines and ("web2", "connecting") in lines


def test_a_compiled_job_crosses_pickle_whole(tmp_path: Path, mute_port: int) -> None:
    stack_file = write_stack(tmp_path, mute_port)
    with Session.open(stack_file) as session:
        plan = plan_run(session.stack, session.registry, CONFIGURE, ["web1"], states=session.states())
    (job,) = plan.jobs
    task = RemoteJob.of(job, plan.targets["web1"], HostOptions(lock="configure by test"))
    assert portable(job) and check_picklable(task) is None
    back = pickle.loads(pickle.dumps(task))
    assert [r.key for r in back.job.resources] == [r.key for r in job.resources]
    assert back.target == task.target and back.lock == "configure by test"


def test_replay_calls_back_in_order() -> None:
    seen = []
    options = HostOptions(log=lambda h, line: seen.append(("log", h, line)),
                          on_changed=lambda h, k, s: seen.append(("changed", h, k, s)),
                          on_setup=lambda h: seen.append(("setup", h)))
    events = [("log", "a", "connecting"), ("setup", "a"), ("changed", "a", "file[/x]", "create"), ("log", "a", "x")]
    replay(RemoteResult(HostOutcome("a"), list(events)), options)
    assert seen == events
