"""runner.engine.wrap: shell that shares a host run's probe and apply commands (a deploy's steps), run here
with sh through runner.testing.LocalConnection."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from runner.engine.host import HostJob, HostOptions, HostRunner
from runner.engine.wrap import Wrap, WrapFailed, chain
from runner.resources.builtin.file import File
from runner.testing import LocalConnection


def _run(resources, wrap: Wrap) -> tuple[object, int]:
    conn = LocalConnection()
    outcome = HostRunner(HostJob("local", resources, wrap=wrap), conn, HostOptions()).run()  # type: ignore[arg-type]
    return outcome, conn.commands_run


def test_before_and_after_ride_in_the_probe_and_apply_commands(tmp_path: Path) -> None:
    seen = []
    log = tmp_path / "log"

    def after(output: str) -> str:
        seen.append(output)
        return f"echo after >> {log}; echo done-after\n"

    wrap = Wrap(before=f"set -e\nhead -c 5 > {tmp_path / 'in'}\necho before >> {log}\necho said-before\n",
                stdin=b"12345", after=after)
    outcome, commands = _run([File(str(tmp_path / "out"), content="x\n")], wrap)
    assert not outcome.failed and commands == 2
    assert (tmp_path / "in").read_bytes() == b"12345" and (tmp_path / "out").read_text() == "x\n"
    assert log.read_text() == "before\nafter\n", "before ran first, after last"
    assert seen == ["said-before\n"], "after is made from before's output"
    assert wrap.after_result is not None and wrap.after_result.exit_status == 0
    assert wrap.after_result.stdout.decode().strip() == "done-after"


def test_a_failing_before_stops_the_probe(tmp_path: Path) -> None:
    wrap = Wrap(before="echo '@@step stage'\necho broken\nexit 3\n", after=lambda output: "echo never\n")
    with pytest.raises(WrapFailed) as caught:
        _run([File(str(tmp_path / "out"), content="x\n")], wrap)
    assert caught.value.result.exit_status == 3 and b"broken" in caught.value.result.stdout
    assert not (tmp_path / "out").exists()


def test_nothing_to_apply_leaves_after_to_the_caller(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x\n")
    wrap = Wrap(before="true\n", after=lambda output: "echo later\n")
    outcome, commands = _run([File(str(tmp_path / "out"), content="x\n")], wrap)
    assert not outcome.failed and commands == 1
    assert wrap.after_result is None and wrap.after_script == "echo later\n"


def test_a_failed_resource_keeps_after_from_running(tmp_path: Path) -> None:
    (tmp_path / "dir").write_text("a file where a directory must go\n")
    wrap = Wrap(after=lambda output: f"touch {tmp_path / 'ran'}\n")
    outcome, _ = _run([File(str(tmp_path / "dir" / "out"), content="x\n")], wrap)
    assert outcome.failed and wrap.after_result is None and not (tmp_path / "ran").exists()


def test_a_failed_after_is_reported_and_its_exit_status_kept(tmp_path: Path) -> None:
    wrap = Wrap(after=lambda output: "echo '@@step health_check'\nexit 4\n")
    outcome, _ = _run([File(str(tmp_path / "out"), content="x\n")], wrap)
    assert not outcome.failed, "the recipes themselves applied"
    assert wrap.after_result is not None and wrap.after_result.exit_status == 4


def test_chain_runs_each_script_in_its_own_subshell_and_stops_at_the_first_failure(tmp_path: Path) -> None:
    conn = LocalConnection()
    script = chain(["echo one; x=leaked; cd /tmp; exit 0\n", 'echo "two ${x:-kept} $PWD"\n',
                    "set -e\necho three\nfalse\necho not-here\n", "echo four\n"])
    result = conn.run(f"cd / && sh -c {shlex.quote(script)} sh; st=$?; exit $st")
    # the first's exit, variable and cd stayed its own; set -e of the third worked (no `||` around it)
    assert result.stdout.decode().splitlines() == ["one", "two kept /", "three"] and result.exit_status == 1

