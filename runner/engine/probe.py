"""The probe script: every resource's probe (and guards) of one host in one remote command.

Each section of the output is framed by a marker that holds a random token,
so nothing a probe prints can be taken for a frame.
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from runner.resources.api import Resource


@dataclass(frozen=True)
class ProbeResult:
    outputs: dict[int, str]  # resource index -> the probe's stdout
    statuses: dict[int, int]  # resource index -> the probe's exit status
    guards: dict[int, bool]  # resource index -> True when its guards allow it to run


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


def probe_groups(resources: Sequence[Resource]) -> dict[int, tuple[int, ...]]:
    """Resources probed together: first index -> every member's index (see Resource.probe_group)."""
    groups: dict[str, list[int]] = {}
    for i, resource in enumerate(resources):
        if resource.probe_group and resource.probe_batchable():
            groups.setdefault(resource.probe_group, []).append(i)
    return {members[0]: tuple(members) for members in groups.values() if len(members) > 1}


def build_probe_script(resources: Sequence[Resource], token: str) -> str:
    lines = ["#!/bin/sh", "exec </dev/null", "cd /"]
    groups = probe_groups(resources)
    grouped = {i for members in groups.values() for i in members}
    for i, resource in enumerate(resources):
        guard = guard_shell(resource)
        if guard:
            lines.append(f"if {guard}; then g=1; else g=0; fi")
            lines.append(f"printf '%s:guard:{i}:%s\\n' '{token}' \"$g\"")
        if i in groups:
            members = [resources[j] for j in groups[i]]
            lines.append(f"printf '%s\\n' '{token}:probe:b{i}'")
            lines.append(f"{{ {type(resource).probe_many(members)}\n}} 2>/dev/null")
            lines.append(f"printf '\\n%s:status:b{i}:%s\\n' '{token}' \"$?\"")
        if i in grouped:
            continue
        lines.append(f"printf '%s\\n' '{token}:probe:{i}'")
        if resource.probe_isolated:
            lines.append(f"( {resource.probe()}\n) 2>/dev/null")
        else:
            lines.append(f"{{ {resource.probe()}\n}} 2>/dev/null")
        lines.append(f"printf '\\n%s:status:{i}:%s\\n' '{token}' \"$?\"")
    lines.append(f"printf '%s\\n' '{token}:done'")
    return "\n".join(lines) + "\n"


def build_setup_probe(resources: Sequence[Resource], setup_resources: Sequence[Resource], marker: str,
                      configured_token: str, setup_token: str) -> str:
    """One probe for a host that may never have been set up: the host decides which to run.

    When the setup marker is there, only ``resources`` are probed (framed with
    ``configured_token``); otherwise the setup resources and then ``resources``
    (framed with ``setup_token``). So a fresh host costs one probe, not two.
    """
    configured = build_probe_script(resources, configured_token)
    fresh = build_probe_script([*setup_resources, *resources], setup_token)
    return f"if [ -s {shlex.quote(marker)} ]; then\n{configured}else\n{fresh}fi\n"


class ProbeParseError(ValueError):
    pass


class TokenMarks:
    """The marker lines ``TOKEN:<body>`` of a script's output, for any token, from one compiled pattern.

    A pattern with each host's token in it would be compiled anew for every host (the tokens are
    random, so ``re``'s cache never hits); this one matches any token and keeps the lines of the
    token asked for. A token with a ``:`` or a newline in it gets a pattern of its own.
    """

    def __init__(self, body: str, whole_line: bool = True):
        self.body = rf"(?:{body})" + ("$" if whole_line else "")
        self.pattern = re.compile(rf"^(?P<tok>[^\n:]+):{self.body}", re.M)

    def finditer(self, text: str, token: str) -> Iterator[re.Match[str]]:
        if ":" in token or "\n" in token or not token:
            yield from re.finditer(rf"^(?P<tok>{re.escape(token)}):{self.body}", text, re.M)
            return
        for m in self.pattern.finditer(text):
            if m.group("tok") == token:
                yield m


_PROBE_MARKS = TokenMarks(r"(?P<probe>probe:(?P<pi>b?\d+))|(?P<guard>guard:(?P<gi>\d+):(?P<gv>[01]))"
                          r"|(?P<status>status:(?P<si>b?\d+):(?P<sv>\d+))|(?P<done>done)")


def parse_probe_output(text: str, token: str, resources: Sequence[Resource]) -> ProbeResult:
    """Split the probe script's stdout into each resource's output, status and guard."""
    count = len(resources)
    outputs: dict[int | str, str] = {}
    statuses: dict[int | str, int] = {}
    guards: dict[int, bool] = {}
    open_key: str | int | None = None
    start = 0
    done = False
    for m in _PROBE_MARKS.finditer(text, token):
        if open_key is not None and m.group("status"):
            body = text[start:m.start()]
            outputs[open_key] = body[:-1] if body.endswith("\n") else body  # less the newline the frame added
            open_key = None
        if m.group("probe"):
            pi = m.group("pi")
            open_key, start = (pi if pi.startswith("b") else int(pi)), m.end() + 1
        elif m.group("guard"):
            guards[int(m.group("gi"))] = m.group("gv") == "1"
        elif m.group("status"):
            si = m.group("si")
            statuses[si if si.startswith("b") else int(si)] = int(m.group("sv"))
        elif m.group("done"):
            done = True
    for first, members in probe_groups(resources).items():
        if f"b{first}" in outputs:
            group = [resources[j] for j in members]
            for j, share in zip(members, type(resources[first]).split_many(outputs.pop(f"b{first}"), group),
                                strict=True):
                outputs[j] = share
                statuses[j] = statuses.get(f"b{first}", 0)
    found = [k for k in outputs if isinstance(k, int)]
    if not done or len(found) != count:
        raise ProbeParseError(f"the probe output is incomplete ({len(found)} of {count} resources)")
    return ProbeResult({k: v for k, v in outputs.items() if isinstance(k, int)},
                       {k: v for k, v in statuses.items() if isinstance(k, int)}, guards)
