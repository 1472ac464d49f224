"""runner.deploy.hostscripts.after_script: the steps after a host's recipes in one script, run here with sh."""

from __future__ import annotations

import subprocess
from pathlib import Path

from runner.deploy import hostscripts


def _sh(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "t").mkdir(exist_ok=True)
    return subprocess.run(["sh", "-c", script, "sh", str(tmp_path / "t")], capture_output=True, text=True,
                          timeout=60)


def test_the_parts_run_in_order_and_the_health_check_is_timed(tmp_path: Path) -> None:
    script = hostscripts.after_script([("hook:after_restart", "echo hook\n"),
                                       ("health_check", hostscripts.health_script("true", 2, 0.1, 5)),
                                       ("finish", "set -e\necho finish\n")])
    result = _sh(script, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "hook" and lines[-1] == "finish"
    assert f"{hostscripts.STEP} health_check" in lines and "healthy after 1 tries" in lines
    assert 0.0 <= hostscripts.health_seconds(result.stdout) < 30


def test_an_unhealthy_host_stops_before_the_bookkeeping(tmp_path: Path) -> None:
    script = hostscripts.after_script([("health_check", hostscripts.health_script("false", 2, 0.1, 5)),
                                       ("finish", f"touch {tmp_path / 'finished'}\n")])
    result = _sh(script, tmp_path)
    assert result.returncode == 1
    assert "unhealthy after 2 tries" in result.stdout and hostscripts.HEALTH_TIME in result.stdout
    assert not (tmp_path / "finished").exists()


def test_what_a_remote_fetch_printed_is_read_back() -> None:
    assert hostscripts.fetched(f"x\n{hostscripts.SOURCE} abc123 v1.2\n") == ("abc123", "v1.2")
    assert hostscripts.fetched(f"{hostscripts.SOURCE} - -\n") == (None, None)
    assert hostscripts.fetched("nothing\n") == (None, None)
    assert hostscripts.health_seconds("no timing here\n") == 0.0
