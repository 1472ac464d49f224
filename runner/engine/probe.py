"""The probe script: every resource's probe (and guards) of one host in one remote command.

Each section of the output is framed by a marker that holds a random token,
so nothing a probe prints can be taken for a frame.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runner.resources.api import Resource


@dataclass(frozen=True)
class ProbeResult:
    outputs: dict[int, str]  # resource index -> the probe's stdout
    statuses: dict[int, int]  # resource index -> the probe's exit status
    guards: dict[int, bool]  # resource index -> True when its guards allow it to run
    facts: dict[str, str]


def new_token() -> str:
    return "@@runner-" + secrets.token_hex(6)


def guard_shell(resource: Resource) -> str | None:
    """A shell condition that is true when the resource's only_if/not_if allow it to run."""
    parts = []
    if resource.only_if is not None:
        parts.append(f"( {resource.only_if}\n) >/dev/null 2>&1 </dev/null")
    if resource.not_if is not None:
        parts.append(f"! ( {resource.not_if}\n) >/dev/null 2>&1 </dev/null")
    return " && ".join(parts) if parts else None


def build_probe_script(resources: Sequence[Resource], token: str, facts: Mapping[str, str] | None = None) -> str:
    lines = ["#!/bin/sh", "exec </dev/null", "cd /"]
    for name, command in (facts or {}).items():
        lines.append(f"printf '%s\\n' '{token}:fact:{name}'")
        lines.append(f"( {command}\n) 2>/dev/null")
        lines.append(f"printf '\\n%s\\n' '{token}:endfact'")
    for i, resource in enumerate(resources):
        guard = guard_shell(resource)
        if guard:
            lines.append(f"if {guard}; then g=1; else g=0; fi")
            lines.append(f"printf '%s:guard:{i}:%s\\n' '{token}' \"$g\"")
        lines.append(f"printf '%s\\n' '{token}:probe:{i}'")
        if resource.probe_isolated:
            lines.append(f"( {resource.probe()}\n) 2>/dev/null")
        else:
            lines.append(f"{{ {resource.probe()}\n}} 2>/dev/null")
        lines.append(f"printf '\\n%s:status:{i}:%s\\n' '{token}' \"$?\"")
    lines.append(f"printf '%s\\n' '{token}:done'")
    return "\n".join(lines) + "\n"


class ProbeParseError(ValueError):
    pass


def parse_probe_output(text: str, token: str, count: int) -> ProbeResult:
    """Split the probe script's stdout into each resource's output, status and guard."""
    tok = re.escape(token)
    pattern = re.compile(
        rf"^{tok}:(?:(?P<fact>fact:(?P<fname>[^\n]*))|(?P<probe>probe:(?P<pi>\d+))|"
        rf"(?P<guard>guard:(?P<gi>\d+):(?P<gv>[01]))|(?P<status>status:(?P<si>\d+):(?P<sv>\d+))|"
        rf"(?P<endfact>endfact)|(?P<done>done))$",
        re.M,
    )
    outputs: dict[int, str] = {}
    statuses: dict[int, int] = {}
    guards: dict[int, bool] = {}
    facts: dict[str, str] = {}
    open_section: tuple[str, str | int] | None = None
    start = 0
    done = False
    for m in pattern.finditer(text):
        if open_section is not None and (m.group("status") or m.group("endfact")):
            body = text[start:m.start()]
            body = body[:-1] if body.endswith("\n") else body  # the newline the frame added
            kind, key = open_section
            if kind == "probe":
                outputs[int(key)] = body
            else:
                facts[str(key)] = body
            open_section = None
        if m.group("fact"):
            open_section, start = ("fact", m.group("fname")), m.end() + 1
        elif m.group("probe"):
            open_section, start = ("probe", int(m.group("pi"))), m.end() + 1
        elif m.group("guard"):
            guards[int(m.group("gi"))] = m.group("gv") == "1"
        elif m.group("status"):
            statuses[int(m.group("si"))] = int(m.group("sv"))
        elif m.group("done"):
            done = True
    if not done or len(outputs) != count:
        raise ProbeParseError(f"the probe output is incomplete ({len(outputs)} of {count} resources)")
    return ProbeResult(outputs, statuses, guards, facts)
