"""Release ids, what a host says about its releases, and which releases to keep (pure logic, no host).

A release is a directory ``/srv/<app>/releases/<id>`` whose id is the UTC
time of the deploy as ``YYYYmmddHHMMSS``. Its ``.release.json`` says what it
holds and how far it got (:data:`STAGED`, :data:`DEPLOYED`, :data:`FAILED`,
:data:`ROLLED_BACK`).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ID_FORMAT = "%Y%m%d%H%M%S"
_ID = re.compile(r"^[0-9]{14}$")

#: release statuses, as written in .release.json
STAGED, DEPLOYED, FAILED, ROLLED_BACK = "staged", "deployed", "failed", "rolled_back"

INSPECT_CURRENT = "@@current"
INSPECT_RELEASE = "@@release"


def release_id(when: _dt.datetime) -> str:
    return when.astimezone(_dt.UTC).strftime(ID_FORMAT)


def parse_release_id(text: str) -> _dt.datetime | None:
    try:
        return _dt.datetime.strptime(text, ID_FORMAT).replace(tzinfo=_dt.UTC)
    except ValueError:
        return None


def next_release_id(now: _dt.datetime, existing: Iterable[str]) -> str:
    """The id for a new release: the UTC time now, or one second after the newest existing id.

    Taking every host's ids into account makes the id the same on every host
    of a deploy and unique even for two deploys within one second.
    """
    newest = max((t for t in map(parse_release_id, existing) if t is not None), default=None)
    when = now.astimezone(_dt.UTC).replace(microsecond=0)
    if newest is not None and when <= newest:
        when = newest + _dt.timedelta(seconds=1)
    return release_id(when)


@dataclass(frozen=True)
class Release:
    id: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return str(self.meta.get("status", STAGED))


@dataclass(frozen=True)
class HostReleases:
    """What one host has of an app: its releases (oldest first) and where ``current`` points."""

    releases: tuple[Release, ...] = ()
    current: str | None = None  # a release id, or None when there is no current link

    def get(self, release: str) -> Release | None:
        return next((r for r in self.releases if r.id == release), None)

    def previous(self) -> Release | None:
        """The newest deployed release older than the current one: where a rollback goes."""
        older = [r for r in self.releases if r.status == DEPLOYED and (self.current is None or r.id < self.current)]
        return older[-1] if older else None


def parse_inspect(text: str) -> HostReleases:
    """Parse the output of the inspect script (see :mod:`runner.deploy.hostscripts`)."""
    current: str | None = None
    releases: list[Release] = []
    for line in text.splitlines():
        if line.startswith(INSPECT_CURRENT):
            target = line[len(INSPECT_CURRENT):].strip()
            current = target.rstrip("/").rsplit("/", 1)[-1] if target else None
        elif line.startswith(INSPECT_RELEASE + " "):
            rest = line[len(INSPECT_RELEASE) + 1:]
            rid, _, meta_text = rest.partition(" ")
            if not _ID.match(rid):  # not a release of ours (someone's own directory): leave it alone
                continue
            try:
                meta = json.loads(meta_text) if meta_text.strip() else {}
            except json.JSONDecodeError:
                meta = {}
            releases.append(Release(rid, meta if isinstance(meta, dict) else {}))
    releases.sort(key=lambda r: r.id)
    return HostReleases(tuple(releases), current)


def releases_to_remove(host: HostReleases, keep: int, protect: Sequence[str] = ()) -> list[str]:
    """Which release directories to delete so that ``keep`` releases remain.

    Kept: the current release, the releases in ``protect`` (e.g. the one a
    deploy is finishing), and the newest deployed releases up to ``keep`` in
    all. Staged (an interrupted deploy), failed and rolled-back releases go
    first; they are never rollback targets.
    """
    kept = {r for r in protect}
    if host.current:
        kept.add(host.current)
    room = max(keep - len(kept), 0)
    for release in reversed(host.releases):
        if room == 0:
            break
        if release.id not in kept and release.status == DEPLOYED:
            kept.add(release.id)
            room -= 1
    return [r.id for r in host.releases if r.id not in kept]


@dataclass(frozen=True)
class FleetRelease:
    """The release an app's instances run: what a joining instance gets."""

    release: Release  # its meta as the first host running it has it
    hosts: tuple[str, ...]  # the hosts whose current is it, in the order given


def fleet_release(hosts: Mapping[str, HostReleases]) -> FleetRelease | None:
    """The release most of ``hosts`` run (where their ``current`` points); a tie goes to the newest.

    A host counts only when its current is a release of ours that it has (a
    dangling link or someone's own directory runs nothing we know). None when
    no host runs a release: the app was never deployed there.
    """
    running: dict[str, list[str]] = {}
    metas: dict[str, Release] = {}
    for host, releases in hosts.items():
        current = releases.get(releases.current) if releases.current else None
        if current is None:
            continue
        running.setdefault(current.id, []).append(host)
        metas.setdefault(current.id, current)
    if not running:
        return None
    counts = Counter({rid: len(names) for rid, names in running.items()})
    chosen = max(counts, key=lambda rid: (counts[rid], rid))
    return FleetRelease(metas[chosen], tuple(running[chosen]))
