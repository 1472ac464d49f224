"""Choosing the release a joining instance gets from what the app's other instances say (pure, no host)."""

from __future__ import annotations

import json

from runner.deploy.releases import INSPECT_CURRENT, INSPECT_RELEASE, fleet_release, parse_inspect


def inspect_output(current: str | None, *releases: str, revision: str = "abc") -> str:
    """What the inspect script prints on a host with these releases and ``current``."""
    lines = [f"{INSPECT_CURRENT} {'releases/' + current if current else ''}"]
    for rid in releases:
        meta = {"id": rid, "status": "deployed", "revision": f"{revision}-{rid}", "checksum": f"sha256:{rid}"}
        lines.append(f"{INSPECT_RELEASE} {rid} {json.dumps(meta)}")
    return "\n".join(lines) + "\n"


OLD, MID, NEW = "20260101000000", "20260102000000", "20260103000000"


def test_every_host_runs_the_same_release() -> None:
    hosts = {"app1": parse_inspect(inspect_output(MID, OLD, MID)), "app2": parse_inspect(inspect_output(MID, MID))}
    chosen = fleet_release(hosts)
    assert chosen is not None and chosen.release.id == MID and chosen.hosts == ("app1", "app2")
    assert chosen.release.meta["revision"] == f"abc-{MID}" and chosen.release.meta["checksum"] == f"sha256:{MID}"


def test_most_hosts_win_over_a_newer_release() -> None:
    hosts = {"app1": parse_inspect(inspect_output(NEW, OLD, NEW)),
             "app2": parse_inspect(inspect_output(OLD, OLD, NEW)),
             "app3": parse_inspect(inspect_output(OLD, OLD))}
    chosen = fleet_release(hosts)
    assert chosen is not None and chosen.release.id == OLD and chosen.hosts == ("app2", "app3")


def test_a_tie_goes_to_the_newest() -> None:
    hosts = {"app1": parse_inspect(inspect_output(OLD, OLD, NEW)), "app2": parse_inspect(inspect_output(NEW, NEW))}
    chosen = fleet_release(hosts)
    assert chosen is not None and chosen.release.id == NEW and chosen.hosts == ("app2",)


def test_hosts_running_nothing_we_know_do_not_count() -> None:
    hosts = {
        "fresh": parse_inspect(inspect_output(None)),
        "dangling": parse_inspect(inspect_output(NEW, OLD)),  # current points at a removed release
        "theirs": parse_inspect(f"{INSPECT_CURRENT} /opt/their-own-dir\n"),
        "app4": parse_inspect(inspect_output(OLD, OLD)),
    }
    chosen = fleet_release(hosts)
    assert chosen is not None and chosen.release.id == OLD and chosen.hosts == ("app4",)


def test_never_deployed_anywhere() -> None:
    assert fleet_release({}) is None
    assert fleet_release({"app1": parse_inspect(inspect_output(None, OLD))}) is None  # staged, never switched to
