"""``file`` and ``template``: validation, probe parsing, diffs and apply steps, as tables (no host)."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest

from runner.resources.api import Change, CompileContext, ResourceError
from runner.resources.builtin.file import File, FileState
from runner.resources.builtin.template import Template

PATH = "/etc/app.conf"
SHA_HI = hashlib.sha256(b"hi\n").hexdigest()
NL = b"\n"
SHA_OLD = hashlib.sha256(b"old\n").hexdigest()


def _ctx(**files: bytes) -> CompileContext:
    return CompileContext(
        cookbook_name="cb", cookbook_path=Path("/cb"), recipe_path=Path("/cb/recipes/default.py"),
        render_template=lambda source, variables: f"{source}:{sorted(variables.items())}\n",
        read_file=lambda source: files[source],
    )


# -- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, kwargs, message", [
    ("etc/x", {}, "path must be an absolute path"),
    (PATH, {"content": "a", "source": "b"}, "give content or source, not both"),
    (PATH, {"content": 42}, "content must be a string or bytes"),
    (PATH, {"source": ""}, "source must be a file name"),
    (PATH, {"mode": "u+rw"}, "mode must be an octal string"),
    (PATH, {"mode": 0o77777}, "out of range"),
    (PATH, {"owner": "bad user"}, "owner must be a user/group name"),
    (PATH, {"group": "a:b"}, "group must be a user/group name"),
    (PATH, {"action": "touch"}, "unknown action 'touch'"),
    (PATH, {"contents": "x"}, "unknown argument 'contents' \\(did you mean 'content'\\?\\)"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_file_rejects(name, kwargs, message) -> None:
    with pytest.raises(ResourceError, match=message):
        File(name, **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "source \\(a template under the cookbook's templates/\\) is required"),
    ({"source": "a.j2", "variables": ["x"]}, "variables must be a mapping"),
    ({"source": "a.j2", "content": "x"}, "unknown argument 'content'"),
])
def test_template_rejects(kwargs, message) -> None:
    with pytest.raises(ResourceError, match=message):
        Template(PATH, **kwargs)


def test_content_and_source_are_resolved() -> None:
    assert File(PATH, content="hé").content == "hé".encode()
    sourced = File(PATH, source="motd")
    assert sourced.content is None
    sourced.prepare(_ctx(motd=b"\x00bin"))
    assert sourced.content == b"\x00bin"
    template = Template(PATH, source="app.j2", variables={"b": 2, "a": 1})
    template.prepare(_ctx())
    assert template.content == b"app.j2:[('a', 1), ('b', 2)]\n"
    assert Template(PATH, action="delete").diff(FileState("absent")) == []
    with pytest.raises(RuntimeError, match="prepare\\(\\) was not called"):
        File(PATH, source="motd").diff(FileState("file", sha256=SHA_HI))


# -- parse -----------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize("output, state", [
    ("", FileState()),
    ("type=absent\n", FileState()),
    ("type=weird\n", FileState()),
    ("type=directory\n", FileState("directory")),
    ("type=link\n", FileState("link")),
    (f"type=file\nmode=644\nowner=root\nuid=0\ngroup=adm\ngid=4\nsha256={SHA_HI}\ncontent={_b64(b'hi' + NL)}\n",
     FileState("file", SHA_HI, "0644", "root", 0, "adm", 4, b"hi\n")),
    ("type=file\nmode=4755\nuid=x\ncontent=!!notbase64\n", FileState("file", mode="4755")),
    ("type=file\nmode=600\ncontent=\n", FileState("file", mode="0600", content=b"")),
], ids=["empty", "absent", "garbled-type", "directory", "link", "full", "garbled-values", "empty-content"])
def test_parse(output, state) -> None:
    assert File(PATH, content="x").parse(output) == state


# -- diff ------------------------------------------------------------------------------------

FILE_HI = FileState("file", SHA_HI, "0644", "root", 0, "root", 0, b"hi\n")
FILE_OLD = FileState("file", SHA_OLD, "0644", "root", 0, "root", 0, b"old\n")
FILE_OLD_UNSENT = FileState("file", SHA_OLD, "0644", "root", 0, "root", 0, None)

DIFF_CASES = [
    # (id, kwargs, state, expected summaries)
    ("absent-create", {"content": "hi\n"}, FileState(), ["create"]),
    ("same", {"content": "hi\n", "mode": "644", "owner": "root", "group": 0}, FILE_HI, []),
    ("touch-exists", {}, FILE_OLD, []),
    ("touch-absent", {}, FileState(), ["create"]),
    ("content", {"content": "hi\n"}, FILE_OLD, ["update content"]),
    ("metadata", {"content": "hi\n", "mode": 0o600, "owner": "app", "group": "1001"}, FILE_HI,
     ["mode 0644 -> 0600", "owner root -> app", "group root -> 1001"]),
    ("owner-by-uid", {"owner": 0}, FILE_HI, []),
    ("owner-by-uid-differs", {"owner": "1000"}, FILE_HI, ["owner root -> 1000"]),
    ("directory", {"content": "x"}, FileState("directory"), [f"create: {PATH} is a directory"]),
    ("symlink", {"content": "x"}, FileState("link"), ["replace symlink with a file"]),
    ("fifo", {"content": "x"}, FileState("other"), ["replace special file with a file"]),
    ("delete", {"action": "delete"}, FILE_HI, ["delete"]),
    ("delete-absent", {"action": "delete"}, FileState(), []),
    ("delete-link", {"action": "delete"}, FileState("link"), ["delete"]),
    ("delete-directory", {"action": "delete"}, FileState("directory"), [f"delete: {PATH} is a directory"]),
    ("sensitive", {"content": "hi\n", "sensitive": True}, FILE_OLD, ["content changed (sensitive)"]),
    ("sensitive-new", {"content": "hi\n", "sensitive": True}, FileState(), ["create"]),
]


@pytest.mark.parametrize("kwargs, state, summaries", [c[1:] for c in DIFF_CASES], ids=[c[0] for c in DIFF_CASES])
def test_diff(kwargs, state, summaries) -> None:
    assert [c.summary for c in File(PATH, **kwargs).diff(state)] == summaries


@pytest.mark.parametrize("kwargs, state, diff", [
    ({"content": "hi\n"}, FILE_OLD, f"--- {PATH}\n+++ {PATH}\n@@ -1 +1 @@\n-old\n+hi\n"),
    ({"content": "hi\n"}, FileState(), f"--- /dev/null\n+++ {PATH}\n@@ -0,0 +1 @@\n+hi\n"),
    ({"content": "hi"}, FILE_OLD, f"--- {PATH}\n+++ {PATH}\n@@ -1 +1 @@\n-old\n+hi\n\\ No newline at end of file\n"),
    ({"content": "hi\n"}, FILE_OLD_UNSENT, None),  # too big or binary: the probe did not send it
    ({"content": b"\xff\xfe"}, FILE_OLD, None),  # new content is not text
    ({"content": "hi\n", "sensitive": True}, FILE_OLD, None),
    ({"content": "hi\n", "sensitive": True}, FileState(), None),
], ids=["update", "create", "no-newline", "old-unknown", "binary", "sensitive", "sensitive-create"])
def test_unified_diff(kwargs, state, diff) -> None:
    (change,) = File(PATH, **kwargs).diff(state)
    assert change.diff == diff


def test_probe_sends_content_only_when_managed_and_not_sensitive() -> None:
    assert "base64" in File(PATH, content="x").probe()
    assert "base64" in Template(PATH, source="t.j2").probe()
    assert "base64" not in File(PATH).probe()
    assert "base64" not in File(PATH, content="x", sensitive=True).probe()
    assert "-le 65536" in File(PATH, content="x").probe()


def test_probe_sends_old_content_only_when_its_checksum_differs() -> None:
    import hashlib

    probe = File(PATH, content="x").probe()
    assert f'[ "$s" != {hashlib.sha256(b"x").hexdigest()} ]' in probe
    assert "sha256sum" not in File(PATH).probe()  # no managed content: no checksum to compute


# -- apply -----------------------------------------------------------------------------------

def test_apply_writes_content_atomically() -> None:
    resource = File(PATH, content="hi\n", owner="app", mode="0600")
    step = resource.apply(FILE_OLD, resource.diff(FILE_OLD))
    assert step.payloads == ()  # small text: printf in the script
    assert 'runner_t=/etc/.runner-"$$"-' in step.script and "umask 066" in step.script
    assert "runner_c='hi\n'" in step.script and step.script.count("hi\n") == 1  # the text once, in a variable
    assert "{ set -C; { printf '%s' \"$runner_c\" >\"$runner_t\"; } 2>/dev/null ||" in step.script
    assert "chown -- app \"$runner_t\"" in step.script and "chmod" not in step.script  # the umask gave 0600
    sensitive = File(PATH, content="hi\n", mode="0755", sensitive=True)
    step = sensitive.apply(FILE_OLD, sensitive.diff(FILE_OLD))
    assert step.payloads == (b"hi\n",) and 'cat -- "$P0" >"$runner_t"' in step.script
    assert "chmod -- 0755 \"$runner_t\"" in step.script and "umask" not in step.script
    assert 'mv -Tf -- "$runner_t" "$runner_p"' in step.script
    assert "parent directory /etc does not exist" in step.script
    assert "mkdir" not in step.script  # a missing parent fails, as in Chef


def test_a_sensitive_file_without_a_mode_is_created_private() -> None:
    """Its temporary file is 0600 from its creation (umask 077), never readable by others before a chmod."""
    secret = File(PATH, content="token\n", sensitive=True)
    step = secret.apply(FILE_OLD, secret.diff(FILE_OLD))
    assert "umask 077" in step.script and "umask 022" not in step.script
    plain = File(PATH, content="token\n")
    assert "umask 022" in plain.apply(FILE_OLD, plain.diff(FILE_OLD)).script


@pytest.mark.parametrize("kwargs, state, present, absent", [
    ({"content": "hi\n", "mode": "0600"}, FILE_HI, ["chmod -- 0600 /etc/app.conf"], ["$P0", "mktemp"]),
    ({"mode": "0600"}, FileState(), [": >/etc/app.conf", "chmod -- 0600 /etc/app.conf"], ["$P0"]),
    ({"action": "delete"}, FILE_HI, ["rm -f -- /etc/app.conf", "@@unchanged"], ["rm -rf"]),
], ids=["metadata-only", "touch", "delete"])
def test_apply_scripts(kwargs, state, present, absent) -> None:
    resource = File(PATH, **kwargs)
    step = resource.apply(state, resource.diff(state))
    for text in present:
        assert text in step.script
    for text in absent:
        assert text not in step.script
    if "$P0" in absent:
        assert step.payloads == ()


def test_apply_runs_in_a_local_shell(tmp_path) -> None:
    """The create and delete steps, run for real in a local sh against a temp dir."""
    path = tmp_path / "sub dir" / "f 'x'"
    resource = File(str(path), content="body\n", mode="0640")
    state = FileState()
    payload = tmp_path / "p0"
    payload.write_bytes(resource.content or b"")
    run = lambda script: subprocess.run(["sh", "-ec", script], capture_output=True, text=True,  # noqa: E731
                                        env={"PATH": "/usr/bin:/bin", "P0": str(payload)})
    missing = run(resource.apply(state, resource.diff(state)).script)
    assert missing.returncode == 1 and f"parent directory {path.parent} does not exist" in missing.stderr
    path.parent.mkdir()
    assert run(resource.apply(state, resource.diff(state)).script).returncode == 0
    assert path.read_text() == "body\n" and oct(path.stat().st_mode & 0o777) == "0o640"
    probed = resource.parse(run(resource.probe()).stdout)
    # in sync: the checksum matches, so the old content is not sent back
    assert probed.content is None and resource.diff(probed) == []
    path.write_text("changed\n")
    assert resource.parse(run(resource.probe()).stdout).content == b"changed\n"
    path.write_text("body\n")
    delete = File(str(path), action="delete")
    assert run(delete.apply(probed, delete.diff(probed)).script).returncode == 0
    assert not path.exists()
    assert run(delete.apply(probed, []).script).stdout == "@@unchanged\n"


def test_change_type() -> None:
    assert File(PATH, content="x").diff(FileState())[0] == Change("create", f"--- /dev/null\n+++ {PATH}\n"
                                                                             "@@ -0,0 +1 @@\n+x\n"
                                                                             "\\ No newline at end of file\n")


def test_a_file_last_written_sensitive_never_shows_its_old_content() -> None:
    mark = "/var/lib/runner/sensitive/" + hashlib.sha256(PATH.encode()).hexdigest()
    plain = File(PATH, content="password=abc\n")
    assert f"if [ -e {mark} ]; then echo was_sensitive=1" in plain.probe()
    state = plain.parse("type=file\nsize=9\nsha256=00\nwas_sensitive=1\n")
    assert state.was_sensitive and state.content is None
    assert [(c.summary, c.diff) for c in plain.diff(state)] == [("content changed (was sensitive)", None)]
    script = plain.apply(state, plain.diff(state)).script
    # unmarked once rewritten
    assert script.rstrip().endswith(f"if [ -e {mark} ]; then rm -f -- {mark} 2>/dev/null || :; fi")
    secret = File(PATH, content="password=s3cr3t\n", sensitive=True)
    assert mark not in secret.probe()
    written = secret.apply(state, secret.diff(state)).script
    assert written.index(f": >{mark}") < written.index('mv -Tf -- "$runner_t" "$runner_p"')  # marked first
