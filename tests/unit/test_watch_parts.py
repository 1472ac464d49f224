"""The pieces of runner watch that touch no host: the metrics parser, the events log, the lock, the state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from runner.errors import UserError
from runner.events import InstanceChange
from runner.watch import eventlog, metrics
from runner.watch.lock import WatchLock
from runner.watch.state import HealEntry, WatchState
from runner.watch.types import WANT_RUNNING, WANT_STOPPED

CPU_A = "cpu  100 0 100 800 0 0 0 0 0 0"  # busy 200 of 1000
CPU_B = "cpu  400 0 100 1000 0 0 0 0 0 0"  # busy 500 of 1500: 300 busy of 500 since A


def output(*cpu_lines: str, load: str = "0.42", mem: str = "1000 250", boot: str = "b1") -> str:
    lines = [f"{metrics.MARK} {c}" for c in cpu_lines]
    return "\n".join([f"{metrics.MARK} load {load}", *lines, f"{metrics.MARK} mem {mem}",
                      f"{metrics.MARK} boot {boot}"]) + "\n"


def test_a_first_pass_reads_cpu_twice_and_later_passes_once() -> None:
    assert metrics.command(first=True).count("/proc/stat") == 2 and "sleep" in metrics.command(True)
    assert metrics.command(first=False).count("/proc/stat") == 1 and "sleep" not in metrics.command(False)


def test_the_command_runs_in_a_real_shell_on_this_machine() -> None:
    out = subprocess.run(["sh", "-c", metrics.command(first=True)], capture_output=True, text=True,
                         check=True).stdout
    sample, reading = metrics.parse("local", out, 1.0, None)
    assert sample.alive and sample.load1 is not None and sample.memory is not None and 0 <= sample.memory <= 100
    assert sample.cpu is not None and 0 <= sample.cpu <= 100 and reading is not None


def test_parse_first_pass_uses_its_own_two_readings() -> None:
    sample, reading = metrics.parse("a", output("cpu  100 0 100 800 0 0 0 0", CPU_B.replace("cpu ", "cpu")), 5.0,
                                    None)
    assert sample.load1 == 0.42 and sample.memory == 75.0 and sample.time == 5.0
    assert sample.cpu == pytest.approx(60.0)
    assert reading == metrics.CpuReading(500, 1500, "b1")


def test_parse_later_pass_uses_the_previous_reading_of_the_same_boot() -> None:
    previous = metrics.CpuReading(200, 1000, "b1")
    sample, _ = metrics.parse("a", output(CPU_B), 5.0, previous)
    assert sample.cpu == pytest.approx(60.0)
    rebooted, reading = metrics.parse("a", output(CPU_B, boot="b2"), 5.0, previous)
    assert rebooted.cpu is None and reading.boot == "b2"  # another boot: counters started again


def test_parse_is_robust_to_garbage() -> None:
    sample, reading = metrics.parse("a", "motd line\n@@watch load x\n@@watch mem 0 0\n@@watch cpu a b\n", 1.0, None)
    assert sample.alive and sample.load1 is None and sample.memory is None and sample.cpu is None
    assert reading is None


def test_busy_percent_bounds() -> None:
    assert metrics.busy_percent(None, metrics.CpuReading(1, 2, "b")) is None
    assert metrics.busy_percent(metrics.CpuReading(5, 10, "b"), metrics.CpuReading(5, 10, "b")) is None
    assert metrics.busy_percent(metrics.CpuReading(0, 0, "b"), metrics.CpuReading(10, 10, "b")) == 100.0


def change(instance: str, stack: str = "s", action: str = "heal") -> InstanceChange:
    return InstanceChange("2026-12-02T10:00:00+00:00", stack, instance, action, "stopped", "online", "because")


def test_events_log_appends_whole_lines_and_reads_from_an_offset(tmp_path) -> None:
    eventlog.append(tmp_path, change("a"))
    eventlog.append(tmp_path, change("b", stack="other"))
    events, offset = eventlog.read(tmp_path, "s")
    assert [e.instance for e in events] == ["a"]
    assert oct(os.stat(eventlog.path_for(tmp_path)).st_mode & 0o777) == "0o600"
    with open(eventlog.path_for(tmp_path), "ab") as f:
        f.write(b'{"half": ')  # a line being written: skipped until whole
    eventlog.append(tmp_path, change("c"))
    more, end = eventlog.read(tmp_path, None, offset)
    assert more == [] and end > offset  # the garbled line swallowed c's: skipped, never misread
    everything, _ = eventlog.read(tmp_path, None)
    assert [e.instance for e in everything] == ["a", "b"]
    assert json.loads(eventlog.path_for(tmp_path).read_text().splitlines()[0])["why"] == "because"


def test_events_log_follow_stops_when_told(tmp_path) -> None:
    stop = threading.Event()
    eventlog.append(tmp_path, change("a"))
    seen = []
    for event in eventlog.follow(tmp_path, "s", until=stop.is_set, poll=0.01):
        seen.append(event.instance)
        if len(seen) == 1:
            eventlog.append(tmp_path, change("b"))
        if len(seen) == 2:
            stop.set()
    assert seen == ["a", "b"]


def test_events_of_a_missing_log_are_none(tmp_path) -> None:
    assert eventlog.read(tmp_path / "nowhere", "s") == ([], 0)


def test_a_second_watch_is_refused_with_the_first_ones_pid(tmp_path) -> None:
    code = ("import sys, time; from runner.watch.lock import WatchLock; "
            f"WatchLock({str(tmp_path)!r}, 's').acquire(); print('held', flush=True); time.sleep(30)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError) as refused:
            WatchLock(tmp_path, "s").acquire()
        assert f"pid {holder.pid}" in str(refused.value) and "already watched" in str(refused.value)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    with WatchLock(tmp_path, "s"):  # the lock went with the process
        pass


def test_watch_state_keeps_wanted_states_and_heal_entries(tmp_path) -> None:
    state = WatchState(tmp_path, "s")
    assert state.read().wanted == {} and state.read().online is None
    state.set_wanted(["a", "b"], WANT_RUNNING)
    state.save_pass({"a": HealEntry(2, 10.0, False, "boom"), "c": HealEntry()}, {"load": {"x": 1}}, ["b"],
                    {"b": WANT_STOPPED})
    read = state.read()
    assert read.wanted == {"a": WANT_RUNNING, "b": WANT_STOPPED}
    assert read.heal == {"a": HealEntry(2, 10.0, False, "boom")} and read.memory == {"load": {"x": 1}}
    assert read.online == ["b"]
    state.set_wanted(["a"], WANT_RUNNING)  # a start by hand forgets the heal attempts
    assert state.read().heal == {}
    assert WatchState(tmp_path, "other").read().wanted == {}
    with pytest.raises(ValueError):
        state.set_wanted(["a"], "paused")


def test_a_pass_that_did_not_finish_keeps_who_was_online(tmp_path) -> None:
    state = WatchState(tmp_path, "s")
    state.save_pass({}, {}, None, {})  # a first pass interrupted: still unknown, not "nobody"
    assert state.read().online is None
    state.save_pass({}, {}, ["a"], {})
    state.save_pass({}, {"load": {}}, None, {})
    assert state.read().online == ["a"] and state.read().memory == {"load": {}}


def test_watch_state_survives_a_broken_file(tmp_path) -> None:
    (tmp_path / "watch.json").write_text("{not json")
    state = WatchState(tmp_path, "s")
    assert state.read().wanted == {}
    state.set_wanted(["a"], WANT_STOPPED)
    assert state.read().wanted == {"a": WANT_STOPPED}


def test_only_time_and_load_based_instances_at_rest_are_off_by_design() -> None:
    from runner.model.stack import Instance
    from runner.providers.api import off_by_design

    def inst(scaling: str) -> Instance:
        return Instance(name="a", layers=("app",), hostname="a", scaling=scaling)

    for status in ("stopped", "missing", "terminated"):
        assert off_by_design(inst("time"), status) and off_by_design(inst("load"), status)
        assert not off_by_design(inst("24/7"), status)  # a 24/7 instance down is a failure of the run
    for status in ("online", "connection_lost", "start_failed", "stop_failed", "pending"):
        assert not off_by_design(inst("time"), status)
