"""The batched probe of files and directories says what each resource's own probe says."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from runner.engine.probe import probe_groups
from runner.resources.builtin.directory import Directory
from runner.resources.builtin.file import File
from runner.resources.builtin.pathprobe import batchable_path


def _sh(script: str) -> str:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30).stdout


def test_batched_probe_matches_single_probes(tmp_path: Path) -> None:
    odd = tmp_path / "we ird 'q' \"dq\" $(touch pwned) `x`; y"
    odd.write_text("old\n")
    (tmp_path / "same").write_text("same\n")
    (tmp_path / "empty").write_text("")
    (tmp_path / "binary").write_bytes(b"a\0b")
    (tmp_path / "dir").mkdir(mode=0o750)
    (tmp_path / "link").symlink_to(tmp_path / "same")
    os.chmod(tmp_path / "same", 0o640)
    resources = [
        File(str(odd), content="new\n"),
        File(str(tmp_path / "same"), content="same\n", mode="0640"),
        File(str(tmp_path / "empty"), content="x"),
        File(str(tmp_path / "binary"), content="other"),
        File(str(tmp_path / "missing"), content="m"),
        File(str(tmp_path / "link"), content="l"),
        File(str(tmp_path / "dir"), content="d"),
        File(str(tmp_path / "touch-only")),
        File(str(tmp_path / "same"), content="changed\n", sensitive=True),
        Directory(str(tmp_path / "dir"), mode="0750"),
        Directory(str(tmp_path / "same")),
        Directory(str(tmp_path / "link")),
        Directory(str(tmp_path / "nodir")),
    ]
    assert probe_groups(resources) == {0: tuple(range(len(resources)))}
    shares = File.split_many(_sh(File.probe_many(resources)), resources)
    for resource, share in zip(resources, shares, strict=True):
        alone = resource.parse(_sh(resource.probe()))
        assert resource.parse(share) == alone, resource.key
        assert resource.diff(resource.parse(share)) == resource.diff(alone), resource.key
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    # the old content travels only where the checksum differs and it may be shown
    assert resources[0].parse(shares[0]).content == b"old\n"
    assert resources[1].parse(shares[1]).content is None
    assert resources[8].parse(shares[8]).content is None
    assert resources[3].parse(shares[3]).content is None  # binary: no diff


def test_odd_paths_are_probed_alone() -> None:
    assert not batchable_path("/a\nb") and not batchable_path("/a\tb") and not batchable_path("/a\\b")
    resources = [File("/a\nb", content="x"), File("/c", content="y"), Directory("/d")]
    assert probe_groups(resources) == {1: (1, 2)}


def test_a_path_marked_sensitive_sends_no_content_batched_or_alone(tmp_path: Path, monkeypatch) -> None:
    from runner.resources.builtin import pathprobe

    monkeypatch.setattr(pathprobe, "SENSITIVE_MARKS", str(tmp_path / "marks"))
    (tmp_path / "marks").mkdir()
    (tmp_path / "was").write_text("password=old-secret\n")
    (tmp_path / "plain").write_text("old\n")
    (tmp_path / "marks" / Path(pathprobe.sensitive_mark(str(tmp_path / "was"))).name).write_text("")
    resources = [File(str(tmp_path / "was"), content="password=abc\n"), File(str(tmp_path / "plain"), content="new\n")]
    shares = File.split_many(_sh(File.probe_many(resources)), resources)
    for resource, share in zip(resources, shares, strict=True):
        assert resource.parse(share) == resource.parse(_sh(resource.probe())), resource.key
    was, plain = (r.parse(s) for r, s in zip(resources, shares, strict=True))
    assert was.was_sensitive and was.content is None and "old-secret" not in shares[0]
    assert [c.summary for c in resources[0].diff(was)] == ["content changed (was sensitive)"]
    assert not plain.was_sensitive and plain.content == b"old\n"
