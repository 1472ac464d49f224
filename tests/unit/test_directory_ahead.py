"""Directories to create one after another are made by one mkdir (Resource.apply_ahead), run here with sh."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from runner.engine.host import aheads
from runner.resources.api import Ahead, Change, Resource
from runner.resources.builtin.directory import Directory, DirectoryState
from runner.resources.builtin.file import File
from runner.testing import converge_locally

ABSENT = DirectoryState()
CREATE = [Change("create")]


@pytest.fixture
def mkdir_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every mkdir the scripts start is logged, one line per process, then the real one runs."""
    shims, log = tmp_path / "shims", tmp_path / "mkdir.log"
    shims.mkdir()
    real = next(Path(d) / "mkdir" for d in os.environ["PATH"].split(os.pathsep) if (Path(d) / "mkdir").is_file())
    (shims / "mkdir").write_text(f'#!/bin/sh\necho "$#" >> \'{log}\'\nexec \'{real}\' "$@"\n')
    (shims / "mkdir").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
    return log


def _mode(path: Path) -> str:
    return format(stat.S_IMODE(path.stat().st_mode), "04o")


def test_twenty_directories_cost_one_mkdir(tmp_path: Path, mkdir_log: Path) -> None:
    base = tmp_path / "base"
    names = [f"d{i:02d}" for i in range(20)] + ["we ird;$(touch pwned)'\"x", "-n"]
    resources = [Directory(str(base / n), mode="0750") for n in names]
    outcome, commands = converge_locally(resources)
    assert commands == 2 and not outcome.failed
    assert [r.status for r in outcome.resources] == ["changed"] * len(names)
    assert all(_mode(base / n) == "0750" for n in names)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    assert mkdir_log.read_text().splitlines() == [str(len(names) + 4)]  # -p -m MODE -- and the paths: one process
    mkdir_log.unlink()
    outcome, commands = converge_locally(resources)
    assert commands == 1 and [r.status for r in outcome.resources] == ["ok"] * len(names)
    assert not mkdir_log.exists()


def test_a_failure_halfway_stops_there_and_leaves_nothing_made_ahead(tmp_path: Path, mkdir_log: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    # the probe finds every one absent; only mkdir finds the fourth name too long
    names = ["d00", "d01", "d02", "x" * 300, "d04", "d05"]
    resources = [Directory(str(base / n), mode="0755") for n in names]
    outcome, _ = converge_locally(resources)
    assert [r.status for r in outcome.resources] == ["changed", "changed", "changed", "failed", "not-run", "not-run"]
    assert "File name too long" in outcome.resources[3].output
    assert sorted(p.name for p in base.iterdir()) == ["d00", "d01", "d02"]
    # the ahead tried once and undid itself, then each member's own step ran up to the failure
    assert mkdir_log.read_text().splitlines() == ["10", "5", "5", "5", "5"]


def test_what_the_probe_finds_in_the_way_ends_the_run_before_it(tmp_path: Path, mkdir_log: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "d03").write_text("a file in the way")
    resources = [Directory(str(base / f"d{i:02d}"), mode="0755") for i in range(6)]
    outcome, _ = converge_locally(resources)
    assert [r.status for r in outcome.resources] == ["changed", "changed", "changed", "failed", "not-run", "not-run"]
    assert "exists and is not a directory" in outcome.resources[3].output
    assert sorted(p.name for p in base.iterdir()) == ["d00", "d01", "d02", "d03"]
    assert (base / "d03").read_text() == "a file in the way"
    assert mkdir_log.read_text().splitlines() == ["7"]  # d00..d02 in one, then d03 failed before any mkdir


def test_nested_members_join_and_a_directory_under_a_missing_parent_starts_anew(tmp_path: Path) -> None:
    resources = [Directory(str(tmp_path / "a")), Directory(str(tmp_path / "a" / "b")),
                 Directory(str(tmp_path / "x" / "y")), Directory(str(tmp_path / "x" / "z"))]
    runs = aheads(resources, [(ABSENT, CREATE)] * 4, [0, 1, 2, 3])
    assert [run.indices for run in runs] == [(0, 1), (2, 3)]
    outcome, _ = converge_locally(resources)
    assert not outcome.failed and (tmp_path / "a" / "b").is_dir() and (tmp_path / "x" / "z").is_dir()


def test_what_breaks_a_run(tmp_path: Path) -> None:
    d = [str(tmp_path / f"d{i}") for i in range(10)]
    here = DirectoryState("directory", "0755")
    resources: list[Resource] = [
        Directory(d[0]), Directory(d[1]),
        Directory(d[2], only_if="true"),  # guarded: its turn decides
        Directory(d[3]), Directory(d[4], mode="0700"),  # another mode
        Directory(d[5], mode="0700", notifies=("create", f"directory[{d[6]}]", "immediately")),
        Directory(d[6], mode="0700"),  # after an immediate notification: the run ended before it
        Directory(d[7]), File(d[8] + "/f", content="x"), Directory(d[9]),  # another type between
    ]
    diffs = [(ABSENT, CREATE)] * 8 + [(None, CREATE), (ABSENT, CREATE)]
    assert [run.indices for run in aheads(resources, diffs, list(range(10)))] == [(0, 1), (4, 5)]
    # only what the probe found absent, and only creates
    resources = [Directory(d[0]), Directory(d[1]), Directory(d[2], action="delete"), Directory(d[3]), Directory(d[4])]
    diffs = [(ABSENT, CREATE), (here, [Change("mode 0700 -> 0755")]), (here, [Change("delete")]),
             (ABSENT, CREATE), (ABSENT, CREATE)]
    assert [run.indices for run in aheads(resources, diffs, list(range(5)))] == [(3, 4)]
    # only what will be applied: a run is of included resources, one after another
    assert [run.indices for run in aheads(resources, [(ABSENT, CREATE)] * 5, [0, 3])] == [(0, 3)]


def test_a_type_that_gets_its_aheads_wrong_is_told_so() -> None:
    class Sloppy(Directory):
        @classmethod
        def apply_ahead(cls, items):
            return [Ahead((0, 2), "true", ("true", "true"))]

    resources = [Sloppy("/a"), Sloppy("/b"), Sloppy("/c")]
    with pytest.raises(ValueError, match="two or more consecutive positions"):
        aheads(resources, [(ABSENT, CREATE)] * 3, [0, 1, 2])


def test_owner_and_group_go_to_every_member_in_one_chown(tmp_path: Path) -> None:
    uid, gid = os.getuid(), os.getgid()
    resources = [Directory(str(tmp_path / f"d{i}"), owner=uid, group=gid, mode="0700") for i in range(3)]
    run, = aheads(resources, [(ABSENT, CREATE)] * 3, [0, 1, 2])
    assert run.script.count("chown") == 1 and run.script.count("mkdir") == 1
    outcome, _ = converge_locally(resources)
    assert not outcome.failed
    assert all((tmp_path / f"d{i}").stat().st_uid == uid and _mode(tmp_path / f"d{i}") == "0700" for i in range(3))


def test_a_long_run_is_cut_into_commands_of_a_bounded_size(tmp_path: Path) -> None:
    from runner.resources.builtin.directory import AHEAD_LIMIT

    count = AHEAD_LIMIT * 2 + 5
    resources = [Directory(str(tmp_path / f"d{i}")) for i in range(count)]
    runs = aheads(resources, [(ABSENT, CREATE)] * count, list(range(count)))
    assert [len(run.indices) for run in runs] == [AHEAD_LIMIT, AHEAD_LIMIT, 5]
    outcome, _ = converge_locally(resources)
    assert not outcome.failed and all((tmp_path / f"d{i}").is_dir() for i in range(count))
