"""The apply script: every change of one host, in order, in one remote command.

Layout of the script (POSIX sh, run as ``sh script T`` by :mod:`runner.engine.wire`):

1. read every payload from stdin into ``$T/p<N>`` (exact byte counts), then
   close stdin so no step can swallow what is not its own;
2. one block per entry, in declaration order: skipped once a step failed;
   guards re-evaluated right before the step; the step runs in a subshell with
   ``set -e`` and its payload paths in ``P0``, ``P1`` ...; its output is framed
   by ``begin``/``end`` markers carrying the exit status and whether it changed;
   immediate notifications run right after their notifier changed; an
   *ahead* (one command doing the work of several consecutive entries) runs
   before the first of them, and each one it did skips its own step;
3. delayed notifications, each at most once, whenever any of their notifiers
   changed, even after a failure (as Chef does).

A notified action is subject to its resource's guards, as in Chef.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from runner.engine.probe import TokenMarks, guard_shell
from runner.resources.api import UNCHANGED_LINE, Resource, Step
from runner.resources.payload import Payload, payload_chunks, payload_size

UNCHANGED = UNCHANGED_LINE


@dataclass(frozen=True)
class Entry:
    """One block of the apply script: a step for one resource, or for a batch of them."""

    id: str  # "3", "3,7" for a batch, "notify:5:restart"
    indices: tuple[int, ...]  # the resources it stands for
    step: Step
    guard: str | None = None
    ignore_failure: bool = False


@dataclass(frozen=True)
class AheadRun:
    """An :class:`~runner.resources.api.Ahead` placed in a host's script: its members by resource index."""

    indices: tuple[int, ...]
    script: str
    done: tuple[str, ...]  # per member, as in Ahead

    @property
    def flag(self) -> str:
        """The variable the script's success sets (set before, and read by, its members' subshells)."""
        return f"a_{self.indices[0]}"


def _ahead_member(run: AheadRun, position: int, step: Step) -> Step:
    """``step`` skipped when its ahead succeeded and did this member's work."""
    script = (f'if [ -n "${{{run.flag}:-}}" ] && {run.done[position]}; then :\nelse\n'
              f"{step.script}\nfi")
    return Step(script, step.payloads)


@dataclass
class ApplyScript:
    script: bytes
    payloads: list[Payload]

    @property
    def payload_size(self) -> int:
        """How many bytes follow the script on stdin."""
        return sum(payload_size(p) for p in self.payloads)

    def payload_chunks(self) -> Iterator[bytes]:
        """What follows the script on stdin: every payload in order, in chunks (files read as sent).

        Each call starts over, so every host reads its own way through the files."""
        for payload in self.payloads:
            yield from payload_chunks(payload)

    @property
    def stdin(self) -> bytes:
        """The whole stdin in memory (for tests and small scripts; a run streams :meth:`payload_chunks`)."""
        return self.script + b"".join(self.payload_chunks())


def _relay(token: str) -> list[str]:
    """The shell function that ends every block: relays the step's output, looks for the unchanged
    mark and prints the end marker, with builtins only (no process per step).

    ``runner_end RC ID`` sets rc and ch. Its name is runner's own because a
    step's commands run where the function is defined, and a function
    shadows a program of the same name."""
    return [
        "runner_end() {",
        "  rc=$1; ch=1",
        '  while IFS= read -r l || [ -n "$l" ]; do',
        f"    if [ \"$l\" = '{UNCHANGED}' ]; then ch=0; fi",
        "    printf '%s\\n' \"$l\"",
        '  done < "$T/out"',
        "  l=",
        f"  printf '%s:end:%s:%s:%s\\n' '{token}' \"$2\" \"$rc\" \"$ch\"",  # the relay ended every line
        "}",
    ]


def _block(entry: Entry, token: str, first_payload: int, check_failed: bool) -> list[str]:
    assign = "; ".join(f'P{k}="$T/p{first_payload + k}"' for k in range(len(entry.step.payloads)))
    body = [
        f"printf '%s\\n' '{token}:begin:{entry.id}'",
        "(",
        "set -e",
        *( [assign] if assign else [] ),
        entry.step.script,
        ') > "$T/out" 2>&1 </dev/null',
        f"runner_end $? {shlex.quote(entry.id)}",
        'if [ "$rc" -eq 0 ] && [ "$ch" = 1 ]; then ' + " ".join(f"c_{i}=1;" for i in entry.indices) + " fi",
    ]
    if not entry.ignore_failure:
        body.append(f'if [ "$rc" -ne 0 ]; then failed={entry.id.split(",")[0]}; fi')
    if entry.guard:
        body = [f"if {entry.guard}; then", *body, "else", f"  printf '%s\\n' '{token}:skip:{entry.id}'", "fi"]
    if check_failed:
        body = ['if [ -z "$failed" ]; then', *body, "fi"]
    return body


def build_apply_script(
    resources: Sequence[Resource],
    steps: Sequence[tuple[tuple[int, ...], Step]],
    token: str,
    aheads: Sequence[AheadRun] = (),
) -> ApplyScript:
    """The script applying ``steps`` (in order) to the host.

    :param resources: every resource of the host, by index (for guards and notifications).
    :param steps: (indices, step) in order: one resource, or a batch of resources sharing one step.
    :param aheads: commands run before the first of their members' steps, whose success lets each
        member skip its own step (see :meth:`~runner.resources.api.Resource.apply_ahead`).
    """
    member_of = {i: (run, k) for run in aheads for k, i in enumerate(run.indices)}
    payloads: list[Payload] = []
    lines = ["#!/bin/sh", 'T="$1"', "cd /"]

    def add(entry: Entry, check_failed: bool = True) -> list[str]:
        first = len(payloads)
        for k, data in enumerate(entry.step.payloads):
            lines_payload.append(f'head -c {payload_size(data)} > "$T/p{first + k}" || exit 125')
            payloads.append(data)
        return _block(entry, token, first, check_failed)

    lines_payload: list[str] = []
    body: list[str] = ["failed="]
    delayed: list[tuple[int, str]] = []
    notifiers: dict[tuple[int, str], list[int]] = {}
    index_of = {r.key: i for i, r in reversed(list(enumerate(resources)))}

    for indices, step in steps:
        if len(indices) == 1 and indices[0] in member_of:
            run, position = member_of[indices[0]]
            if position == 0:  # the ahead itself, in the main shell's own if, so the flag outlives it
                body += ['if [ -z "$failed" ]; then',
                         f"  if ( {run.script}\n) >/dev/null 2>&1 </dev/null; then {run.flag}=1; fi", "fi"]
            step = _ahead_member(run, position, step)
        guard = guard_shell(resources[indices[0]]) if len(indices) == 1 else None
        ignore = all(resources[i].ignore_failure for i in indices)
        body += add(Entry(",".join(map(str, indices)), indices, step, guard, ignore))
        for i in indices:
            for note in resources[i].notifies:
                target = index_of[note.target]
                if note.timing == "immediately":
                    inner = add(Entry(f"notify:{target}:{note.action}", (target,),
                                      resources[target].action_step(note.action), guard_shell(resources[target])),
                                check_failed=True)
                    body += [f'if [ "${{c_{i}:-}}" = 1 ]; then', *inner, "fi"]
                else:
                    key = (target, note.action)
                    if key not in notifiers:
                        delayed.append(key)
                        notifiers[key] = []
                    notifiers[key].append(i)
    for target, action in delayed:
        cond = "".join(f"${{c_{i}:-}}" for i in notifiers[(target, action)])
        inner = add(Entry(f"notify:{target}:{action}", (target,), resources[target].action_step(action),
                          guard_shell(resources[target])), check_failed=False)
        body += [f'if [ -n "{cond}" ]; then', *inner, "fi"]
    body.append(f"printf '%s:done:%s\\n' '{token}' \"$failed\"")
    body.append('[ -z "$failed" ]')
    script = "\n".join(lines + lines_payload + ["exec </dev/null", *_relay(token)] + body) + "\n"
    return ApplyScript(script.encode(), payloads)


@dataclass(frozen=True)
class EntryOutcome:
    id: str
    status: str  # "changed" | "unchanged" | "failed" | "skipped"
    exit_status: int | None
    output: str


_APPLY_MARKS = TokenMarks(r"begin:(?P<b>[^\n]+)|end:(?P<e>[^\n:]+(?::[^\n:]+:[^\n:]+)?):(?P<rc>\d+):(?P<ch>[01])"
                          r"|skip:(?P<s>[^\n]+)|done:(?P<f>[^\n]*)")
_RUNNING_MARKS = TokenMarks(r"begin:(?P<b>[^\n]+)|end:|skip:|done:", whole_line=False)


def parse_apply_output(text: str, token: str) -> tuple[dict[str, EntryOutcome], bool]:
    """Each entry's outcome, and whether the script ran to its end."""
    outcomes: dict[str, EntryOutcome] = {}
    start: dict[str, int] = {}
    finished = False
    for m in _APPLY_MARKS.finditer(text, token):
        if m.group("b"):
            start[m.group("b")] = m.end() + 1
        elif m.group("e"):
            entry_id = m.group("e")
            body = text[start.get(entry_id, m.start()):m.start()]
            body = body[:-1] if body.endswith("\n") else body
            rc = int(m.group("rc"))
            status = "failed" if rc else ("changed" if m.group("ch") == "1" else "unchanged")
            cleaned = "\n".join(line for line in body.split("\n") if line != UNCHANGED)
            outcomes[entry_id] = EntryOutcome(entry_id, status, rc, cleaned)
        elif m.group("s"):
            outcomes[m.group("s")] = EntryOutcome(m.group("s"), "skipped", None, "")
        elif m.group("f") is not None:
            finished = True
    return outcomes, finished


def running_entry(text: str, token: str) -> str | None:
    """The id of the entry that began and had not ended where ``text`` (a cut-off apply's output) stops."""
    running = None
    for m in _RUNNING_MARKS.finditer(text, token):
        running = m.group("b")
    return running
