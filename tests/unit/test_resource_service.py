"""``service``: parsing, diffs, steps per manager, and the supervisor's shell (no host)."""

from __future__ import annotations

import subprocess

import pytest

from runner.resources.api import Change, ResourceError
from runner.resources.builtin import supervisor
from runner.resources.builtin.service import Service, ServiceState


@pytest.mark.parametrize("name, kwargs, message", [
    ("bad name", {}, "'bad name' is not a valid service name"),
    ("-x", {}, "not a valid service name"),
    ("a/b", {}, "not a valid service name"),
    ("web", {"action": ["start", "stop"]}, "actions 'start' and 'stop' contradict"),
    ("web", {"action": ["enable", "disable"]}, "actions 'enable' and 'disable' contradict"),
    ("web", {"action": "bounce"}, "unknown action 'bounce'"),
])
def test_rejects(name, kwargs, message) -> None:
    with pytest.raises(ResourceError, match=message):
        Service(name, **kwargs)


def test_names_and_defaults() -> None:
    service = Service("web")
    assert service.action == ("enable", "start") and service.notify_only_actions == ("restart", "reload")
    assert Service("web", service_name="nginx.service").service_name == "nginx"


@pytest.mark.parametrize("output, state", [
    ("", ServiceState()),
    ("kind=systemd\nenabled=1\nrunning=0\n", ServiceState("systemd", True, False)),
    ("kind=sysv\nenabled=0\nrunning=1\n", ServiceState("sysv", False, True)),
    ("kind=supervisor\nunit=1\nenabled=1\nrunning=1\n", ServiceState("supervisor", True, True, True)),
    ("kind=launchd\nrunning=yes\n", ServiceState()),
])
def test_parse(output, state) -> None:
    assert Service("web").parse(output) == state


DOWN = ServiceState("supervisor", False, False, True)
UP = ServiceState("supervisor", True, True, True)


@pytest.mark.parametrize("action, state, changes", [
    (("enable", "start"), DOWN, ["enable", "start"]),
    (("enable", "start"), UP, []),
    (("enable", "start"), ServiceState("systemd", True, False), ["start"]),
    (("stop", "disable"), UP, ["stop", "disable"]),
    (("stop", "disable"), DOWN, []),
    ("restart", UP, ["restart"]),  # declared, not notified: every converge, as in Chef
    ("reload", DOWN, ["reload"]),
    ("nothing", DOWN, []),
])
def test_diff(action, state, changes) -> None:
    assert Service("web", action=action).diff(state) == [Change(c) for c in changes]


@pytest.mark.parametrize("action, systemd, sysv, supervised", [
    ("start", 'systemctl start "$runner_n"', 'service "$runner_n" start', "runner_sv_start"),
    ("stop", 'systemctl stop "$runner_n"', 'service "$runner_n" stop', "runner_sv_stop"),
    ("restart", 'systemctl restart "$runner_n"', 'service "$runner_n" restart', "runner_sv_stop && runner_sv_start"),
    ("reload", 'systemctl reload "$runner_n"', 'service "$runner_n" reload', "runner_sv_reload"),
    ("enable", 'systemctl enable "$runner_n"', 'update-rc.d "$runner_n" defaults', "runner_sv_enable"),
    ("disable", 'systemctl disable "$runner_n"', 'update-rc.d "$runner_n" disable', "runner_sv_disable"),
])
def test_action_steps(action, systemd, sysv, supervised) -> None:
    script = Service("web").action_step(action).script
    assert "runner_n=web\n" in script
    for text in (systemd, sysv, supervised, f"service[web]: {action} failed"):
        assert text in script
    assert ("runner_loop=" in script) == (action in ("start", "restart", "reload"))


def test_steps_and_notifications() -> None:
    assert Service("web").apply(UP, []).script == "printf '%s\\n' @@unchanged"
    script = Service("web").apply(DOWN, []).script
    assert script.index("supervisor) runner_sv_enable ;;") < script.index("supervisor) runner_sv_start ;;")
    with pytest.raises(ResourceError, match="cannot be notified"):
        Service("web").action_step("nothing")


UNIT = """\
[Unit]
Description=x
ExecStart=/wrong/section

[Service]
Environment="A=b c" D=e
Environment=F=g
ExecStart=/usr/bin/first
ExecStart=-/usr/bin/python3 -m http.server \\
  8099
# ExecStart=/commented
User=deploy
WorkingDirectory=-/srv/app

[Install]
User=wrong
"""


@pytest.mark.parametrize("key, all_values, expected", [
    ("ExecStart", "", "-/usr/bin/python3 -m http.server    8099\n"),
    ("User", "", "deploy\n"),
    ("WorkingDirectory", "", "-/srv/app\n"),
    ("Environment", "1", '"A=b c" D=e\nF=g\n'),
    ("Group", "", ""),
])
def test_unit_file_reader(tmp_path, key, all_values, expected) -> None:
    unit = tmp_path / "demo.service"
    unit.write_text(UNIT)
    script = f'{supervisor.UNIT_VALUE_FN}\nrunner_u="$1"\nrunner_unit_value "$2" "$3"'
    result = subprocess.run(["sh", "-c", script, "sh", str(unit), key, all_values], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected


def test_supervisor_scripts_are_posix_sh() -> None:
    for text in (supervisor.LOOP, supervisor.library("it's \"x\""), Service("web").probe()):
        result = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_supervisor_status_in_a_local_shell(tmp_path) -> None:
    """No pid file, no unit, no marker: everything reads as 0 (and the probe exits 0)."""
    name = f"runner-unit-test-{tmp_path.name}"
    result = subprocess.run(["sh", "-c", supervisor.library(name, with_loop=False) + "runner_sv_status"],
                            capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "unit=0\nenabled=0\nrunning=0\n")
