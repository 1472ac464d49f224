"""`runner watch` and `runner events` through the command line, on a static stack whose hosts never answer SSH.

No Docker: the instances point at a local port that hangs up at once, so every pass
sees them connection_lost; that is enough to drive the loop, the lock, the state
files and the argument errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from net_support import listening_port

from runner.cli.main import main
from runner.watch.lock import WatchLock


@pytest.fixture
def static_stack(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with listening_port(hang_up=True) as port:
        Path("stack.yml").write_text(
            "stack: {name: quiet, provider: static, ssh: {connect_timeout: 2}}\n"
            "layers:\n  app: {auto_healing: {after: 0}}\n"
            "instances:\n"
            f"  app1: {{layers: [app], address: 127.0.0.1, port: {port}}}\n"
            f"  app2: {{layers: [app], address: 127.0.0.1, port: {port}}}\n")
        yield tmp_path


def test_one_pass_sees_unreachable_static_hosts_and_heals_nothing(static_stack, capsys) -> None:
    assert main(["watch", "--once", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passes"] == 1 and report["changes"] == [] and report["ok"] and not report["interrupted"]
    state = json.loads((static_stack / ".runner" / "watch.json").read_text())["stacks"]["quiet"]
    assert state["memory"]["statuses"] == {"app1": "connection_lost", "app2": "connection_lost"}
    assert state["online"] == [] and state["heal"] == {}  # a static instance is never healed
    assert main(["watch", "--once"]) == 0  # nothing changed: nothing to say
    captured = capsys.readouterr()
    assert captured.out == "" and "stopped after 1 pass, 0 events" in captured.err
    assert main(["events"]) == 0 and capsys.readouterr().out == ""


def test_for_bounds_a_watch_and_passes_follow_the_interval(static_stack, capsys) -> None:
    assert main(["watch", "--for", "1.5s", "--interval", "0.5s", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 2 <= report["passes"] <= 4 and not report["interrupted"]


def test_a_second_watch_is_refused_with_exit_2(static_stack, capsys) -> None:
    with WatchLock(static_stack / ".runner", "quiet"):
        assert main(["watch", "--once"]) == 2
    err = capsys.readouterr().err
    assert "already watched by runner watch (pid" in err and "Traceback" not in err


@pytest.mark.parametrize("args, expected", [
    (["--interval", "0"], "--interval"),
    (["--interval", "soon"], "is not a duration"),
    (["--for", "-5"], "--for"),
    (["--max-heal-attempts", "0"], "must be 1 or more"),
])
def test_bad_arguments_exit_2(static_stack, capsys, args, expected) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["watch", *args])
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err


def test_events_follow_is_bounded_by_for(static_stack, capsys) -> None:
    assert main(["events", "--follow", "--for", "0.5s", "--format", "json"]) == 0
    assert capsys.readouterr().out == ""
