"""The controller's setup record (.runner/instances.json): entries, atomic writes, two writers, stale runs."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
from pathlib import Path

from runner.api import setup_record
from runner.api.runs import retry_failed_setups, setup_results
from runner.api.setup_record import FILE, SetupEntry, SetupRecord, pid_alive, run_alive
from runner.engine.host import HostJob
from runner.engine.outcome import CHANGED, FAILED, NOT_RUN, OK, HostOutcome, ResourceOutcome
from runner.engine.redact import Redactor
from runner.lifecycle import RunPlan
from runner.providers.api import RUNNING_SETUP, SETUP_FAILED
from runner.resources.builtin.file import File


def test_a_missing_record_has_no_entries_and_reading_creates_nothing(tmp_path: Path) -> None:
    record = SetupRecord(tmp_path / ".runner", "demo")
    assert record.entries() == {} and record.get("web1") is None
    assert not (tmp_path / ".runner").exists()


def test_running_then_failed_then_cleared(tmp_path: Path) -> None:
    record = SetupRecord(tmp_path / ".runner", "demo")
    record.mark_running(["web1", "web2"])
    entry = record.get("web1")
    assert entry is not None and entry.status == RUNNING_SETUP
    assert entry.pid == os.getpid() and entry.host == socket.gethostname() and entry.since
    record.settle({"web1": "execute[false] failed"}, ["web2"])
    assert set(record.entries()) == {"web1"}
    failed = record.get("web1")
    assert failed is not None and (failed.status, failed.error) == (SETUP_FAILED, "execute[false] failed")
    record.mark_running(["web1"])  # a retry keeps the last error until it ends
    assert record.get("web1") == SetupEntry(RUNNING_SETUP, record.get("web1").since, os.getpid(),
                                           socket.gethostname(), "execute[false] failed")
    record.settle({}, ["web1"])
    assert record.entries() == {}
    data = json.loads((tmp_path / ".runner" / FILE).read_text())
    assert data == {"version": 1, "stacks": {}}
    assert [p.name for p in (tmp_path / ".runner").iterdir() if p.name.endswith(".tmp")] == []


def test_settle_with_nothing_to_change_writes_nothing(tmp_path: Path) -> None:
    SetupRecord(tmp_path / ".runner", "demo").settle({}, ["web1"])
    assert not (tmp_path / ".runner").exists()


def test_stacks_sharing_a_state_dir_keep_their_own_entries(tmp_path: Path) -> None:
    one, two = SetupRecord(tmp_path, "one"), SetupRecord(tmp_path, "two")
    one.settle({"web1": "boom"}, [])
    two.mark_running(["web1"])
    assert one.get("web1").status == SETUP_FAILED and two.get("web1").status == RUNNING_SETUP
    two.settle({}, ["web1"])
    assert one.get("web1").status == SETUP_FAILED and two.entries() == {}


def test_an_unreadable_record_reads_as_empty_and_is_rewritten(tmp_path: Path) -> None:
    (tmp_path / FILE).write_text("{not json")
    record = SetupRecord(tmp_path, "demo")
    assert record.entries() == {}
    (tmp_path / FILE).write_text(json.dumps({"version": 1, "stacks": {"demo": {"a": {"status": "bogus"}, "b": 3}}}))
    assert record.entries() == {}
    record.settle({"web1": "x"}, [])
    assert set(record.entries()) == {"web1"}


def _writer(state_dir: str, prefix: str, count: int, start: multiprocessing.synchronize.Event) -> None:
    record = SetupRecord(Path(state_dir), "demo")
    start.wait(30)
    for i in range(count):
        record.mark_running([f"{prefix}{i}"])
        record.settle({f"{prefix}{i}": f"failure {i}"}, [])


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    writers = [ctx.Process(target=_writer, args=(str(tmp_path), prefix, 40, start)) for prefix in ("a", "b")]
    for proc in writers:
        proc.start()
    start.set()
    for proc in writers:
        proc.join(120)
        assert proc.exitcode == 0
    entries = SetupRecord(tmp_path, "demo").entries()
    assert set(entries) == {f"{p}{i}" for p in "ab" for i in range(40)}
    assert {e.status for e in entries.values()} == {SETUP_FAILED}
    assert {e.pid for e in entries.values()} == {w.pid for w in writers}


def test_a_running_setup_whose_process_ended_is_stale(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead = int(proc.stdout)  # it has exited and been waited for
    assert not pid_alive(dead) and pid_alive(os.getpid()) and not pid_alive(0)
    record = SetupRecord(tmp_path, "demo")
    record.mark_running(["web1"], pid=dead)
    record.mark_running(["web2"])
    assert not run_alive(record.get("web1")) and run_alive(record.get("web2"))
    assert not run_alive(SetupEntry(RUNNING_SETUP, "t"))  # no pid: nothing can still be running it


def test_for_stack_is_beside_stack_yml(tmp_path: Path) -> None:
    class Stack:  # what for_stack reads of a runner.model.stack.Stack
        name = "demo"
        state_dir = tmp_path / ".runner"
    record = setup_record.for_stack(Stack())  # type: ignore[arg-type]
    assert record.path == tmp_path / ".runner" / "instances.json" and record.stack == "demo"


# -- what a run's outcomes make of the record (runner.api.runs) ---------------------------------------------


MARKER = "/var/lib/runner/setup-demo.json"


def _job(name: str, marker: str | None = MARKER) -> HostJob:
    return HostJob(name, [], [File("/etc/x", content=b"x")], marker, setup_finish=[File(MARKER, content=b"{}")])


def _outcome(name: str, ran_setup: bool, marker_status: str | None, error: str | None = None,
             failed: str | None = None) -> HostOutcome:
    resources = [ResourceOutcome(failed, FAILED)] if failed else []
    if marker_status:
        resources.append(ResourceOutcome(f"file[{MARKER}]", marker_status))
    return HostOutcome(name, resources, error=error, ran_setup=ran_setup)


def test_setup_results_from_the_hosts_outcomes() -> None:
    jobs = [_job(n) for n in ("ok", "again", "failed", "cut", "configured", "unreached", "interrupted", "idle")]
    done = {"ok": _outcome("ok", True, CHANGED), "again": _outcome("again", True, OK),
            "failed": _outcome("failed", True, NOT_RUN, failed="execute[false]"),
            "cut": _outcome("cut", True, None, error="connection lost: secret-token"),
            "configured": _outcome("configured", False, None),
            "unreached": _outcome("unreached", False, None, error="connection refused")}
    started = {"interrupted", "ok", "again", "failed", "cut"}  # "locked": ran_setup, but its setup never began
    done["locked"] = _outcome("locked", True, None, error="host busy: another run")
    jobs.append(_job("locked"))
    failures, succeeded = setup_results(jobs, done, started, Redactor({"secret-token"}))
    assert succeeded == ["ok", "again"]
    assert failures == {"failed": "execute[false] failed", "cut": "connection lost: ********",
                        "interrupted": "the run ended before its setup finished"}


def test_an_unchanged_marker_after_a_failure_is_no_success() -> None:
    """A re-run setup that fails finds the old marker up to date (``ok``): still a failed setup."""
    resetup = HostOutcome("web1", [ResourceOutcome("execute[exit 3]", FAILED), ResourceOutcome(f"file[{MARKER}]", OK)],
                          ran_setup=True)
    cut = HostOutcome("web2", [ResourceOutcome("file[/etc/x]", NOT_RUN), ResourceOutcome(f"file[{MARKER}]", OK)],
                      error="connection lost", ran_setup=True)
    late = HostOutcome("web3", [ResourceOutcome("file[/etc/x]", CHANGED), ResourceOutcome(f"file[{MARKER}]", CHANGED),
                                ResourceOutcome("execute[configure]", FAILED)], ran_setup=True)
    ignored = HostOutcome("web4", [ResourceOutcome("execute[x]", FAILED, ignored_failure=True),
                                   ResourceOutcome(f"file[{MARKER}]", CHANGED)], ran_setup=True)
    failures, succeeded = setup_results([_job(n) for n in ("web1", "web2", "web3", "web4")],
                                        {o.host: o for o in (resetup, cut, late, ignored)},
                                        {"web1", "web2", "web3", "web4"}, Redactor())
    assert failures == {"web1": "execute[exit 3] failed", "web2": "connection lost"}
    assert succeeded == ["web3", "web4"]  # web3's setup succeeded; its configure part failed


def test_a_configure_job_has_no_setup_result() -> None:
    failures, succeeded = setup_results([HostJob("web1", [])], {"web1": _outcome("web1", False, None, "x")}, set(),
                                        Redactor())
    assert (failures, succeeded) == ({}, [])


def test_converge_sets_up_again_the_hosts_whose_setup_failed(tmp_path: Path) -> None:
    record = SetupRecord(tmp_path, "demo")
    record.settle({"web1": "boom"}, [])
    record.mark_running(["web3"], pid=0)
    plan = RunPlan(jobs=[_job("web1"), _job("web2"), _job("web3"), _job("web4", marker=None)])
    lines: list[tuple[str, str]] = []
    retry_failed_setups(plan, record, lambda host, line: lines.append((host, line)))
    assert [(j.name, j.setup_marker) for j in plan.jobs] == [("web1", None), ("web2", MARKER), ("web3", None),
                                                            ("web4", None)]
    assert [h for h, _ in lines] == ["web1", "web3"] and "setup runs again" in lines[0][1]
