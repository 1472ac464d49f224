"""Reading what HAProxy's runtime API prints: ``show stat`` (CSV) and ``show servers state``.

Pure functions over text, so they are tested with tables of real outputs and no host.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

from runner.balancers.api import DRAIN, MAINT, READY

#: srv_admin_state bits (HAProxy's SRV_ADMF_*): forced, inherited, config, resolution and hostname maintenance
MAINT_BITS = 0x01 | 0x02 | 0x04 | 0x20 | 0x40
#: forced and inherited drain
DRAIN_BITS = 0x08 | 0x10
#: srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping
OP_RUNNING = 2


class OutputError(ValueError):
    """HAProxy printed something that is not the expected table."""


@dataclass(frozen=True)
class ServerState:
    """One line of ``show servers state``."""

    backend: str
    server: str
    address: str
    op_state: int
    admin_bits: int

    @property
    def admin(self) -> str:
        if self.admin_bits & MAINT_BITS:
            return MAINT
        if self.admin_bits & DRAIN_BITS:
            return DRAIN
        return READY

    @property
    def running(self) -> bool:
        return self.op_state == OP_RUNNING


@dataclass(frozen=True)
class ServerStat:
    """The fields of one server row of ``show stat`` that a balancer needs."""

    backend: str
    server: str
    sessions: int  # scur
    status: str  # UP, DOWN, DRAIN, MAINT, "no check", "UP 1/3" ...


def parse_servers_state(text: str) -> list[ServerState]:
    """The server lines of ``show servers state [backend]``.

    The first line is the format version, then a ``#`` header naming the
    fields; columns are found by those names, so added fields do not matter.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    header = next((line for line in lines if line.startswith("#")), None)
    if not lines or header is None or not lines[0].strip().isdigit():
        raise OutputError(f"not the output of `show servers state`: {_excerpt(text)}")
    names = header.lstrip("#").split()
    try:
        col = {name: names.index(name) for name in
               ("be_name", "srv_name", "srv_addr", "srv_op_state", "srv_admin_state")}
    except ValueError as exc:
        raise OutputError(f"`show servers state` lacks a field ({exc}): {_excerpt(text)}") from None
    servers = []
    for line in lines[1:]:
        if line.startswith("#"):
            continue
        fields = line.split()
        try:
            servers.append(ServerState(
                backend=fields[col["be_name"]], server=fields[col["srv_name"]], address=fields[col["srv_addr"]],
                op_state=int(fields[col["srv_op_state"]]), admin_bits=int(fields[col["srv_admin_state"]]),
            ))
        except (IndexError, ValueError):
            raise OutputError(f"unreadable line in `show servers state`: {line!r}") from None
    return servers


def parse_stat(text: str) -> list[ServerStat]:
    """The server rows of ``show stat`` (frontend and backend summary rows are left out)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise OutputError(f"not the output of `show stat`: {_excerpt(text)}")
    rows = csv.reader([lines[0][2:]] + [line for line in lines[1:] if line.strip()])
    header = next(rows)
    try:
        px, sv, scur, status = (header.index(n) for n in ("pxname", "svname", "scur", "status"))
    except ValueError:
        raise OutputError(f"`show stat` lacks pxname, svname, scur or status: {_excerpt(text)}") from None
    stats = []
    for row in rows:
        if len(row) <= max(px, sv, scur, status) or row[sv] in ("FRONTEND", "BACKEND"):
            continue
        try:
            sessions = int(row[scur] or 0)
        except ValueError:
            raise OutputError(f"unreadable scur in `show stat`: {row[scur]!r}") from None
        stats.append(ServerStat(row[px], row[sv], sessions, row[status]))
    return stats


def is_up(status: str) -> bool | None:
    """Whether a ``show stat`` status means up by health check; None when it does not tell."""
    word = status.split()[0] if status.strip() else ""
    if word in ("UP", "DRAIN", "NOLB"):  # "UP 1/3": still up, going down; DRAIN, NOLB: up, no new traffic
        return True
    if word == "DOWN":  # also "DOWN 1/2": going up, not yet
        return False
    return None  # MAINT, "no check", empty


def _excerpt(text: str) -> str:
    text = text.strip()
    return repr(text[:200] + ("..." if len(text) > 200 else ""))
