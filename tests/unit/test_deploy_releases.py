"""Release ids, parsing what a host says about its releases, and which releases to keep."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from runner.deploy.releases import (
    DEPLOYED,
    FAILED,
    ROLLED_BACK,
    STAGED,
    HostReleases,
    Release,
    next_release_id,
    parse_inspect,
    releases_to_remove,
)

NOW = dt.datetime(2026, 11, 21, 23, 59, 58, 700000, tzinfo=dt.UTC)


@pytest.mark.parametrize(("existing", "expected"), [
    ([], "20261121235958"),
    (["20261121235957"], "20261121235958"),
    (["20261121235958"], "20261121235959"),  # two deploys within one second
    (["20261121235959", "20261121235958"], "20261122000000"),  # and across midnight
    (["not-a-release", "2026"], "20261121235958"),
])
def test_next_release_id_is_now_or_after_the_newest(existing, expected):
    assert next_release_id(NOW, existing) == expected


def test_next_release_id_uses_utc():
    paris = dt.timezone(dt.timedelta(hours=1))
    assert next_release_id(NOW.astimezone(paris), []) == "20261121235958"


def _line(rid: str, status: str) -> str:
    return f"@@release {rid} " + json.dumps({"id": rid, "status": status})


def test_parse_inspect_reads_current_and_releases_oldest_first():
    text = "\n".join([
        "@@current releases/20260102000000",
        _line("20260102000000", DEPLOYED),
        _line("20260101000000", DEPLOYED),
        "@@release 20260103000000 ",  # an interrupted deploy before .release.json was written
        "@@release my-own-dir {}",  # not ours: ignored
        "@@release 20260104000000 {broken json",
    ])
    host = parse_inspect(text)
    assert host.current == "20260102000000"
    assert [r.id for r in host.releases] == ["20260101000000", "20260102000000", "20260103000000", "20260104000000"]
    assert host.get("20260103000000").status == STAGED
    assert host.get("20260104000000").meta == {}


def test_parse_inspect_without_current():
    assert parse_inspect("@@current \n").current is None
    assert parse_inspect("").releases == ()


def _host(current, *pairs):
    return HostReleases(tuple(Release(rid, {"status": st}) for rid, st in pairs), current)


def test_previous_is_the_newest_deployed_release_older_than_current():
    host = _host("05", ("01", DEPLOYED), ("02", DEPLOYED), ("03", FAILED), ("04", ROLLED_BACK), ("05", DEPLOYED),
                 ("06", DEPLOYED))
    assert host.previous().id == "02"
    assert _host("01", ("01", DEPLOYED)).previous() is None
    assert _host(None).previous() is None


@pytest.mark.parametrize(("keep", "releases", "current", "protect", "removed"), [
    # seven deploys keep five: the current one and four to roll back to
    (5, [(f"0{i}", DEPLOYED) for i in range(1, 8)], "07", [], ["01", "02"]),
    # failed, staged (interrupted) and rolled-back releases go first and never count
    (3, [("01", DEPLOYED), ("02", FAILED), ("03", DEPLOYED), ("04", STAGED), ("05", ROLLED_BACK), ("06", DEPLOYED)],
     "06", [], ["02", "04", "05"]),
    # the current release is kept even when older than the others (after rollbacks)
    (2, [("01", DEPLOYED), ("02", DEPLOYED), ("03", DEPLOYED), ("04", DEPLOYED)], "02", [], ["01", "03"]),
    # keep 1: only current
    (1, [("01", DEPLOYED), ("02", DEPLOYED)], "02", [], ["01"]),
    # a protected release (being finished) is kept beside current
    (1, [("01", DEPLOYED), ("02", STAGED)], "01", ["02"], []),
])
def test_releases_to_remove(keep, releases, current, protect, removed):
    assert releases_to_remove(_host(current, *releases), keep, protect) == removed
