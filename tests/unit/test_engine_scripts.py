"""The probe and apply scripts, run locally with sh through the real wire wrapper (no SSH, no host)."""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from pathlib import Path

import pytest

from runner.engine.apply import build_apply_script, parse_apply_output, running_entry
from runner.engine.host import HostJob, HostOptions, HostRunner
from runner.engine.probe import build_probe_script, new_token, parse_probe_output
from runner.engine.wire import wrapper
from runner.resources.api import Change, Resource, Step
from runner.testing import LocalConnection, converge_locally


class Blob(Resource):
    """A toy file type: content via payload, probe prints the sha256 or 'absent'."""

    type_name = "blob"
    actions = ("create", "touch", "nothing")
    properties = {"content": b"", "fail": False}

    def probe(self) -> str:
        p = shlex.quote(self.name)
        return f"if [ -f {p} ]; then sha256sum < {p} | cut -d' ' -f1; else echo absent; fi"

    def parse(self, output: str) -> str:
        return output.strip()

    def diff(self, state: str) -> list[Change]:
        if "nothing" in self.action:
            return []
        want = hashlib.sha256(self.args["content"]).hexdigest()
        return [] if state == want else [Change("create" if state == "absent" else "update")]

    def apply(self, state, changes) -> Step:
        if self.args["fail"]:
            return Step("echo 'it broke' >&2; false; echo never")
        return Step(f'cat "$P0" > {shlex.quote(self.name)}', (self.args["content"],))

    def action_step(self, action: str) -> Step:
        return Step(f"echo {shlex.quote(action)} >> {shlex.quote(self.name)}.log")


def _converge(resources):
    return converge_locally(resources)


def test_probe_frames_survive_hostile_output() -> None:
    class Noisy(Blob):
        def probe(self) -> str:
            return "printf '@@runner-x:probe:0\\nline\\n'; printf 'no newline at end'"

    token = new_token()
    resources = [Noisy("/a"), Blob("/nonexistent dir/b")]
    script = build_probe_script(resources, token)
    proc = subprocess.run(["sh", "-c", wrapper(script.encode())], input=script.encode(), capture_output=True)
    result = parse_probe_output(proc.stdout.decode(), token, resources)
    assert result.outputs[0] == "@@runner-x:probe:0\nline\nno newline at end"
    assert result.outputs[1] == "absent\n"  # exactly what the probe printed


def test_converge_writes_then_second_run_is_one_command(tmp_path: Path) -> None:
    hostile = tmp_path / "we ird;$(touch pwned)`x`'\"name"
    resources = [Blob(str(hostile), content=b"$(rm -rf /) `id` ; 'q'\n"), Blob(str(tmp_path / "b"), content=b"b")]
    outcome, commands = _converge(resources)
    assert commands == 2 and not outcome.failed
    assert [r.status for r in outcome.resources] == ["changed", "changed"]
    assert hostile.read_bytes() == b"$(rm -rf /) `id` ; 'q'\n"
    assert not (tmp_path / "pwned").exists()
    outcome, commands = _converge(resources)
    assert commands == 1 and [r.status for r in outcome.resources] == ["ok", "ok"]


def test_failure_stops_the_host_but_delayed_notifications_run(tmp_path: Path) -> None:
    target = Blob(str(tmp_path / "svc"), action="nothing")
    resources = [
        Blob(str(tmp_path / "a"), content=b"1", notifies=("restart", target.key)),
        Blob(str(tmp_path / "b"), content=b"2", notifies=("restart", target.key)),
        Blob(str(tmp_path / "c"), content=b"3", fail=True),
        Blob(str(tmp_path / "d"), content=b"4"),
        target,
    ]
    outcome, _ = _converge(resources)
    status = {r.key: r.status for r in outcome.resources}
    assert status[resources[0].key] == "changed" and status[resources[2].key] == "failed"
    assert status[resources[3].key] == "not-run" and not (tmp_path / "d").exists()
    assert outcome.failed
    failed = next(r for r in outcome.resources if r.status == "failed")
    assert "it broke" in failed.output and "never" not in failed.output
    # two notifiers, one delayed restart, run once even though the run failed
    assert (tmp_path / "svc.log").read_text() == "restart\n"
    assert status[f"{target.key} (restart)"] == "changed"


def test_immediate_notification_runs_right_after(tmp_path: Path) -> None:
    log = tmp_path / "svc"
    target = Blob(str(log), action="nothing")
    resources = [
        Blob(str(tmp_path / "a"), content=b"1", notifies=("reload", target.key, "immediately")),
        Blob(str(tmp_path / "b"), content=b"2", fail=True),
        target,
    ]
    _converge(resources)
    assert (tmp_path / "svc.log").read_text() == "reload\n"


def test_guards_are_checked_on_the_host_when_the_resource_runs(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    resources = [
        Blob(str(flag), content=b"x"),
        # only_if false at probe time, true once the first resource ran: runs in the same converge
        Blob(str(tmp_path / "later"), content=b"y", only_if=f"test -f {shlex.quote(str(flag))}"),
        Blob(str(tmp_path / "never"), content=b"z", not_if="true"),
    ]
    outcome, commands = _converge(resources)
    assert [r.status for r in outcome.resources] == ["changed", "changed", "skipped"]
    assert (tmp_path / "later").read_bytes() == b"y" and not (tmp_path / "never").exists()
    outcome, commands = _converge(resources)
    assert commands == 1 and [r.status for r in outcome.resources] == ["ok", "ok", "skipped"]


def test_ignore_failure_goes_on(tmp_path: Path) -> None:
    resources = [Blob(str(tmp_path / "a"), fail=True, ignore_failure=True), Blob(str(tmp_path / "b"), content=b"b")]
    outcome, _ = _converge(resources)
    assert [r.status for r in outcome.resources] == ["failed", "changed"]
    assert outcome.resources[0].ignored_failure and not outcome.failed


def test_plan_changes_nothing(tmp_path: Path) -> None:
    conn = LocalConnection()
    resources = [Blob(str(tmp_path / "a"), content=b"1")]
    outcome = HostRunner(HostJob("local", resources), conn, HostOptions(plan=True)).run()
    assert conn.commands_run == 1 and not (tmp_path / "a").exists()
    assert outcome.resources[0].status == "would-change"
    assert [c.summary for c in outcome.resources[0].changes] == ["create"]


def test_setup_runs_only_when_the_marker_is_missing(tmp_path: Path) -> None:
    marker = tmp_path / "setup-done"
    setup = [Blob(str(tmp_path / "pkg"), content=b"p"), Blob(str(marker), content=b"{}")]
    job = HostJob("local", [Blob(str(tmp_path / "conf"), content=b"c")], setup, str(marker))
    conn = LocalConnection()
    outcome = HostRunner(job, conn, HostOptions()).run()
    assert outcome.ran_setup and conn.commands_run == 2  # one probe (the host chose setup), one apply
    assert [r.status for r in outcome.resources] == ["changed", "changed", "changed"]
    conn = LocalConnection()
    outcome = HostRunner(job, conn, HostOptions()).run()
    assert not outcome.ran_setup and conn.commands_run == 1


def _setup_job(tmp_path: Path, after) -> HostJob:
    marker = tmp_path / "setup-done"
    return HostJob("local", [Blob(str(tmp_path / "conf"), content=b"c")], [Blob(str(tmp_path / "pkg"), content=b"p")],
                   str(marker), setup_finish=[Blob(str(marker), content=b"{}")], after_setup=after)


def test_after_setup_runs_between_setup_and_marker(tmp_path: Path) -> None:
    seen = []

    def after(conn, options, outcome) -> None:  # what setup left on the host when it is called
        seen.append(((tmp_path / "pkg").exists(), (tmp_path / "setup-done").exists(), (tmp_path / "conf").exists()))
        conn.run("true")

    job = _setup_job(tmp_path, after)
    conn = LocalConnection()
    outcome = HostRunner(job, conn, HostOptions()).run()
    assert seen == [(True, False, False)]
    # probe, setup's apply, after_setup's one command, probe of marker and configure, their apply
    assert outcome.ran_setup and not outcome.failed and conn.commands_run == outcome.remote_commands == 5
    assert [r.status for r in outcome.resources] == ["changed", "changed", "changed"]
    conn = LocalConnection()
    outcome = HostRunner(job, conn, HostOptions()).run()
    assert seen == [(True, False, False)] and not outcome.ran_setup and conn.commands_run == 1


def test_failing_after_setup_writes_no_marker(tmp_path: Path) -> None:
    from runner.errors import HostError

    def after(conn, options, outcome) -> None:
        raise HostError("local", "deploy of app x failed at step stage", "setup-deploy")

    outcome = HostRunner(_setup_job(tmp_path, after), LocalConnection(), HostOptions()).run()
    assert outcome.failed and outcome.cause == "setup-deploy"
    assert outcome.error == "deploy of app x failed at step stage"
    assert [r.status for r in outcome.resources] == ["changed", "not-run", "not-run"]
    assert (tmp_path / "pkg").exists() and not (tmp_path / "setup-done").exists() and not (tmp_path / "conf").exists()


def test_plan_never_calls_after_setup(tmp_path: Path) -> None:
    def after(conn, options, outcome) -> None:
        raise AssertionError("a plan deployed something")

    conn = LocalConnection()
    outcome = HostRunner(_setup_job(tmp_path, after), conn, HostOptions(plan=True)).run()
    assert outcome.ran_setup and conn.commands_run == 1 and not (tmp_path / "pkg").exists()
    assert [r.status for r in outcome.resources] == ["would-change"] * 3


def test_setup_without_a_marker_always_runs(tmp_path: Path) -> None:
    calls = []
    job = HostJob("local", [], [Blob(str(tmp_path / "pkg"), content=b"p")],
                  after_setup=lambda conn, options, outcome: calls.append(1))
    for _ in range(2):
        outcome = HostRunner(job, LocalConnection(), HostOptions()).run()
        assert outcome.ran_setup and not outcome.failed
    assert calls == [1, 1]


def test_apply_script_payloads_are_byte_exact(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    resources = [Blob(str(tmp_path / "bin"), content=data), Blob(str(tmp_path / "txt"), content=b"after")]
    token = new_token()
    steps = [((i,), r.apply(None, [])) for i, r in enumerate(resources)]
    script = build_apply_script(resources, steps, token)
    proc = subprocess.run(["sh", "-c", wrapper(script.script)], input=script.stdin, capture_output=True)
    outcomes, finished = parse_apply_output(proc.stdout.decode(), token)
    assert finished and proc.returncode == 0
    assert (tmp_path / "bin").read_bytes() == data and (tmp_path / "txt").read_bytes() == b"after"
    assert outcomes["0"].status == "changed"


@pytest.mark.parametrize("secret_in", ["output", "summary"])
def test_redaction(secret_in: str) -> None:
    from runner.engine.redact import MASK, Redactor

    r = Redactor(["s3cr3t-value", "abc"])
    assert r("x s3cr3t-value y") == f"x {MASK} y"
    assert r("abc") == "abc"  # too short to be treated as a secret


def test_an_ignored_failure_is_counted_apart_from_the_failures(tmp_path: Path) -> None:
    resources = [Blob(str(tmp_path / "a"), fail=True, ignore_failure=True), Blob(str(tmp_path / "b"), fail=True),
                 Blob(str(tmp_path / "c"), fail=True, ignore_failure=True)]
    outcome, _ = _converge(resources)
    assert outcome.count("failed") == 1 and outcome.ignored == 1 and outcome.failed  # c never ran
    report = outcome.to_json()
    assert report["failed"] == 1 and report["ignored"] == 1 and report["ok"] is False
    alone, _ = _converge(resources[:1])
    assert alone.to_json()["failed"] == 0 and alone.to_json()["ignored"] == 1 and alone.to_json()["ok"] is True


def test_a_cut_off_apply_names_the_entry_that_was_running(tmp_path: Path) -> None:
    resources = [Blob(str(tmp_path / "a"), content=b"a"), Blob(str(tmp_path / "b"), content=b"b")]
    token = new_token()
    steps = [((i,), r.apply(None, [])) for i, r in enumerate(resources)]
    script = build_apply_script(resources, steps, token)
    proc = subprocess.run(["sh", "-c", wrapper(script.script)], input=script.stdin, capture_output=True)
    text = proc.stdout.decode()
    assert running_entry(text, token) is None  # it ran to its end
    second = text.index(f"{token}:begin:1")
    assert running_entry(text[:text.index("\n", second) + 1], token) == "1"  # cut off inside the second
    assert running_entry(text[:second], token) is None  # between the two
    assert running_entry("", token) is None
