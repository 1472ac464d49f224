"""``execute``: validation, ``creates``, steps (run in a local sh where it helps; no host)."""

from __future__ import annotations

import subprocess

import pytest

from runner.resources.api import Change, ResourceError
from runner.resources.builtin.execute import Execute, ExecuteState


@pytest.mark.parametrize("name, kwargs, message", [
    ("true", {"command": "  "}, "command must be a non-empty string"),
    ("true", {"cwd": "rel"}, "cwd must be an absolute path"),
    ("true", {"creates": "rel"}, "creates must be an absolute path"),
    ("true", {"environment": ["A=1"]}, "environment must be a mapping"),
    ("true", {"environment": {"1A": "x"}}, "environment variable name '1A' is not valid"),
    ("true", {"environment": {"A B": "x"}}, "environment variable name 'A B' is not valid"),
    ("true", {"environment": {"A": None}}, "environment\\['A'\\] must be a string"),
    ("true", {"returns": 256}, "returns must be an exit code"),
    ("true", {"returns": ()}, "returns must be an exit code"),
    ("true", {"returns": "0"}, "returns must be an exit code"),
    ("true", {"user": "a b"}, "user must be a user/group name"),
    ("true", {"action": "start"}, "unknown action 'start'"),
])
def test_rejects(name, kwargs, message) -> None:
    with pytest.raises(ResourceError, match=message):
        Execute(name, **kwargs)


@pytest.mark.parametrize("kwargs, output, state, changes", [
    ({}, "", ExecuteState(None), [Change("run")]),
    ({"creates": "/x"}, "creates=0\n", ExecuteState(False), [Change("run")]),
    ({"creates": "/x"}, "creates=1\n", ExecuteState(True), []),
    ({"creates": "/x"}, "", ExecuteState(None), [Change("run")]),
    ({"action": "nothing"}, "", ExecuteState(None), []),
], ids=["no-guard-always-runs", "creates-missing", "creates-exists", "probe-said-nothing", "action-nothing"])
def test_parse_and_diff(kwargs, output, state, changes) -> None:
    resource = Execute("make install", **kwargs)
    assert resource.parse(output) == state
    assert resource.diff(state) == changes


def test_probe() -> None:
    assert Execute("x").probe() == ":"
    expected = "if [ -e '/opt/a b' ]; then echo creates=1; else echo creates=0; fi"
    assert Execute("x", creates="/opt/a b").probe() == expected


def test_command_property_overrides_the_name() -> None:
    resource = Execute("build the thing", command="make")
    assert resource.key == "execute[build the thing]" and "sh -c make" in resource.apply(ExecuteState(), []).script


@pytest.mark.parametrize("kwargs, present", [
    ({"user": "deploy"}, ["exec runuser -u deploy -- sh -c 'echo hi'", "exec su -s /bin/sh -c 'sh -c '"]),
    ({"user": "deploy", "environment": {"K": "v"}}, ["( export K=v; if command -v runuser"]),
    ({"cwd": "/srv", "environment": {"A": "1 2"}}, ["cd -- /srv ||", "( export A='1 2'; exec sh -c 'echo hi' )"]),
    ({"returns": 3}, ["  3) exit 0 ;;"]),
    ({"creates": "/done"}, ["if [ -e /done ]; then printf '%s\\n' @@unchanged; exit 0; fi"]),
])
def test_step_text(kwargs, present) -> None:
    script = Execute("echo hi", **kwargs).apply(ExecuteState(), []).script
    for text in present:
        assert text in script


def _run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-ec", script], capture_output=True, text=True)


@pytest.mark.parametrize("command, returns, status, stderr", [
    ("exit 0", (0,), 0, ""),
    ("exit 2", (0, 2), 0, ""),
    ("exit 2", (0,), 2, "exited with status 2, expected 0"),
    ("exit 0", (1,), 1, "exited with status 0, expected 1"),
    ("echo out; false", (0,), 1, "exited with status 1, expected 0"),
])
def test_exit_codes_in_a_local_shell(command, returns, status, stderr) -> None:
    result = _run(Execute(command, returns=returns).apply(ExecuteState(), []).script)
    assert result.returncode == status
    assert stderr in result.stderr


def test_step_in_a_local_shell(tmp_path) -> None:
    marker = tmp_path / "made"
    resource = Execute('printf "%s|%s" "$(pwd)" "$V" > "$OUT"', cwd=str(tmp_path), creates=str(marker),
                       environment={"V": "$(touch pwned) 'q'", "OUT": str(marker)})
    assert _run(resource.action_step("run").script).returncode == 0
    assert marker.read_text() == f"{tmp_path}|$(touch pwned) 'q'"
    assert not (tmp_path / "pwned").exists()
    assert _run(resource.apply(ExecuteState(False), []).script).stdout == "@@unchanged\n"  # creates checked again
    with pytest.raises(ResourceError, match="cannot be notified"):
        resource.action_step("restart")
