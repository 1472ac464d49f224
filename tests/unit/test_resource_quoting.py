"""Hostile values in every built-in type's snippets appear only shell-quoted, and every snippet parses as sh."""

from __future__ import annotations

import shlex
import subprocess
from typing import Any

import pytest

from runner.resources.api import Resource
from runner.resources.builtin import Directory, Execute, File, Group, Link, Package, Service, Template, User
from runner.resources.builtin.directory import DirectoryState
from runner.resources.builtin.execute import ExecuteState
from runner.resources.builtin.file import FileState
from runner.resources.builtin.group import GroupState
from runner.resources.builtin.link import LinkState
from runner.resources.builtin.package import PackageState
from runner.resources.builtin.service import ServiceState
from runner.resources.builtin.user import UserState

EVIL = "a b 'sq' \"dq\" $(touch /tmp/pwned) `touch /tmp/pwned2`; touch /tmp/pwned3 & | \\ *"
EVIL_PATH = "/tmp/" + EVIL
#: fragments that must never be expanded (outside single quotes) or run (outside any quotes)
EXPANDED = ("$(touch", "`touch")
UNQUOTED = ("; touch", " & |")


def shell_exposure(script: str) -> tuple[str, str]:
    """The text sh would expand (unquoted or in double quotes) and the text it would parse as syntax (unquoted).

    A small scanner for the quoting our snippets use: '...' (literal), "..." (expanded), backslash
    escapes, and "$( ... )" (a new unquoted context inside double quotes).
    """
    expanded, unquoted = [], []
    stack = [None]  # None: unquoted, "'" or '"'; a "$(" inside double quotes pushes None
    i = 0
    while i < len(script):
        c, mode = script[i], stack[-1]
        if mode == "'":
            if c == "'":
                stack.pop()
        elif c == "\\":
            i += 1  # the escaped char is literal
        elif mode == '"':
            if c == '"':
                stack.pop()
            elif script.startswith("$(", i):
                stack.append(None)
                expanded.append("$(")
                i += 1
            else:
                expanded.append(c)
        elif c in "'\"":
            stack.append(c)
        elif c == ")" and len(stack) > 1:
            stack.pop()  # the end of a "$(" opened in double quotes
        else:
            expanded.append(c)
            unquoted.append(c)
        i += 1
    assert stack == [None], "unbalanced quotes"
    return "".join(expanded), "".join(unquoted)


def _file(**kw: Any) -> File:
    return File(EVIL_PATH, **kw)


def _template() -> Template:
    resource = Template(EVIL_PATH, source="t.j2")
    resource.content = EVIL.encode()
    return resource


CASES: list[tuple[str, Resource, Any, list[str]]] = [
    # (id, resource, state given to apply, hostile values that must appear quoted)
    ("file-create", _file(content=EVIL), FileState(), [EVIL_PATH]),
    ("file-metadata", _file(mode="0600", owner="app"), FileState("file"), [EVIL_PATH]),
    ("file-delete", _file(action="delete"), FileState("file"), [EVIL_PATH]),
    ("template", _template(), FileState(), [EVIL_PATH]),
    ("directory", Directory(EVIL_PATH, mode="0700"), DirectoryState(), [EVIL_PATH]),
    ("directory-flat", Directory(EVIL_PATH, recursive=False), DirectoryState(), [EVIL_PATH]),
    ("directory-delete", Directory(EVIL_PATH, action="delete"), DirectoryState("directory"), [EVIL_PATH]),
    ("link", Link(EVIL_PATH, to=EVIL), LinkState(), [EVIL_PATH, EVIL]),
    ("link-delete", Link(EVIL_PATH, action="delete"), LinkState("link"), [EVIL_PATH]),
    ("execute", Execute(EVIL, cwd=EVIL_PATH, creates=EVIL_PATH, environment={"X": EVIL}, user="deploy"),
     ExecuteState(False), [EVIL_PATH, EVIL]),
    ("user", User("alice", home=EVIL_PATH, shell=EVIL_PATH, comment=EVIL), UserState(), [EVIL_PATH, EVIL]),
]


def _assert_only_quoted(scripts: list[str], values: list[str]) -> None:
    for value in values:
        assert any(shlex.quote(value) in script for script in scripts), f"{value!r} is not in a script, quoted"
    for script in scripts:
        expanded, unquoted = shell_exposure(script)
        for fragment in EXPANDED:
            assert fragment not in expanded, f"{fragment!r} would be expanded:\n{script}"
        for fragment in UNQUOTED:
            assert fragment not in unquoted, f"{fragment!r} is outside quotes:\n{script}"


@pytest.mark.parametrize("resource, state, values", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_values_are_quoted(resource: Resource, state: Any, values: list[str]) -> None:
    scripts = [resource.probe(), resource.apply(state, resource.diff(state)).script]
    _assert_only_quoted(scripts, values)
    for script in scripts:
        result = subprocess.run(["sh", "-n"], input=script, capture_output=True, text=True)
        assert result.returncode == 0, f"{result.stderr}\n{script}"


def test_the_scanner_catches_unquoted_values() -> None:
    expanded, unquoted = shell_exposure("echo \"$(touch x)\" 'ok' ; touch y")
    assert "$(touch" in expanded and "; touch" in unquoted
    expanded, unquoted = shell_exposure("echo \"$(cat 'a; touch b')\" `touch c`")
    assert "; touch" not in unquoted and "`touch" in expanded
    expanded, unquoted = shell_exposure(f"echo {shlex.quote(EVIL_PATH)}")
    assert "touch" not in expanded


def test_small_text_contents_travel_quoted_in_the_script_and_are_written_literally(tmp_path) -> None:
    target = tmp_path / "x"
    step = File(str(target), content=EVIL).apply(FileState(), [])
    assert step.payloads == ()  # written by printf: no process, no payload
    _assert_only_quoted([step.script], [EVIL])
    result = subprocess.run(["sh", "-c", "set -e\n" + step.script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert target.read_text() == EVIL and oct(target.stat().st_mode & 0o777) == "0o644"
    assert not list(tmp_path.glob("pwned*")) and sorted(p.name for p in tmp_path.iterdir()) == ["x"]


@pytest.mark.parametrize("kwargs", [{"content": EVIL, "sensitive": True}, {"content": EVIL.encode() + b"\0"},
                                    {"content": "x" * (64 * 1024 + 1)}],
                         ids=["sensitive", "binary", "big"])
def test_sensitive_binary_and_big_contents_travel_as_payloads(kwargs) -> None:
    step = File("/etc/x", **kwargs).apply(FileState(), [])
    content = kwargs["content"]
    assert step.payloads == (content if isinstance(content, bytes) else content.encode(),)
    assert "pwned" not in step.script and "xxxx" not in step.script


@pytest.mark.parametrize("resource, state", [
    (Package(["tree", "g++"]), PackageState("apt")),
    (Package("vim", version="2:9.0.1378-2", action="install"), PackageState("apt")),
    (Service("web"), ServiceState()),
    (Group("web", gid=100, members=["alice", "bob"]), GroupState()),
], ids=["package", "package-version", "service", "group"])
def test_validated_names_still_make_valid_sh(resource: Resource, state: Any) -> None:
    """Names these types accept are restricted, but their snippets still parse as sh."""
    for script in (resource.probe(), resource.apply(state, resource.diff(state)).script):
        result = subprocess.run(["sh", "-n"], input=script, capture_output=True, text=True)
        assert result.returncode == 0, f"{result.stderr}\n{script}"


@pytest.mark.parametrize("factory", [
    lambda: Package("tree; rm -rf /"), lambda: Service("web; reboot"), lambda: Group("a$(x)"),
    lambda: User("`x`"), lambda: Group("web", members=["a;b"]),
], ids=["package", "service", "group", "user", "member"])
def test_shell_metacharacters_in_names_are_rejected(factory) -> None:
    with pytest.raises(ValueError):
        factory()
