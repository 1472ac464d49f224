"""Work a run does once, not once per host: setup marks written together, marker lines found with one
pattern, the JSON report encoded without Python's slow encoder."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from runner.api.setup_record import RUNNING_SETUP, RunningMarks, SetupRecord
from runner.cli.render import json_text, print_json
from runner.engine.apply import parse_apply_output, running_entry
from runner.engine.probe import new_token, parse_probe_output


class HeldRecord(SetupRecord):
    """A record whose first write waits until ``waiting`` other hosts are queued behind it."""

    def __init__(self, state_dir: Path, marks: list[RunningMarks], waiting: int):
        super().__init__(state_dir, "s")
        self.marks, self.waiting, self.batches = marks, waiting, []

    def mark_running(self, names, pid=None) -> None:
        if not self.batches:
            deadline = time.monotonic() + 30
            while len(self.marks[0]._pending) < self.waiting and time.monotonic() < deadline:
                time.sleep(0.01)
        self.batches.append(list(names))
        super().mark_running(names, pid)


def test_setups_starting_together_are_marked_in_one_write(tmp_path: Path) -> None:
    marks: list[RunningMarks] = []
    record = HeldRecord(tmp_path, marks, waiting=49)
    marks.append(RunningMarks(record))
    threads = [threading.Thread(target=marks[0].mark, args=(f"h{i}",)) for i in range(50)]
    threads[0].start()
    while not record.batches and marks[0]._next == 0:  # the first host's write has begun
        time.sleep(0.001)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(60)
    assert marks[0].writes == 2 and [len(b) for b in record.batches] == [1, 49]
    entries = SetupRecord(tmp_path, "s").entries()
    assert sorted(entries) == sorted(f"h{i}" for i in range(50))
    assert {e.status for e in entries.values()} == {RUNNING_SETUP}


def test_a_failed_write_is_each_waiting_hosts_error(tmp_path: Path) -> None:
    (tmp_path / "instances.json").mkdir()  # cannot be replaced by a file
    marks = RunningMarks(SetupRecord(tmp_path, "s"))
    with pytest.raises(OSError):
        marks.mark("h1")


class Probed:
    probe_group = None


def test_marker_lines_of_any_host_need_no_pattern_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = []
    real = re.compile
    monkeypatch.setattr(re, "compile", lambda *a, **k: compiled.append(a[0]) or real(*a, **k))
    for _ in range(100):
        token = new_token()
        probe = (f"{token}:probe:0\nstate a\n{token}:status:0:0\nX{token}:probe:1\n"
                 f"{new_token()}:probe:0\n{token}:done\n")
        result = parse_probe_output(probe, token, [Probed()])  # type: ignore[list-item]
        assert result.outputs == {0: "state a"} and result.statuses == {0: 0}
        applied = f"{token}:begin:0\nout\n{token}:end:0:0:1\n{token}:begin:1\n"
        outcomes, finished = parse_apply_output(applied, token)
        assert outcomes["0"].status == "changed" and outcomes["0"].output == "out" and not finished
        assert running_entry(applied, token) == "1"
    assert compiled == []


class Report:
    def __init__(self, data: dict) -> None:
        self.data = data

    def to_dict(self) -> dict:
        return self.data


def test_the_json_report_is_encoded_by_the_c_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import json.encoder

    data = {"command": "converge", "hosts": [
        {"host": f"h{i}", "ok": True, "resources": [{"resource": f"file[/f{j}]", "status": "ok", "changes": [],
                                                    "output": "é\n\"x\"", "n": None} for j in range(5)]}
        for i in range(3)], "empty": {}, "none": []}
    expected = json.dumps(data, indent=2)

    def python_encoder(*args, **kwargs):
        raise AssertionError("the pure-Python JSON encoder was used")

    monkeypatch.setattr(json.encoder, "_make_iterencode", python_encoder)
    out = io.StringIO()
    print_json(out, Report(data))
    assert json.loads(out.getvalue()) == json.loads(expected)
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["{", '  "command": "converge",', '  "hosts": [']
    assert lines[7] == '        {"resource": "file[/f0]", "status": "ok", "changes": [], ' \
                       '"output": "\\u00e9\\n\\"x\\"", "n": null},'
    assert json_text({1: "a"}) == '{"1": "a"}'
