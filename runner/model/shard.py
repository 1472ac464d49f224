"""``--shard I/N``: a stable split of a stack's instances into N parts, by a hash of their names.

N runs of the same command, each given one ``I`` of ``0 .. N-1`` (a Kubernetes
Indexed Job's ``$JOB_COMPLETION_INDEX``, a CI matrix index), together act on
every selected instance exactly once. An instance's shard depends on its name
alone: not on the other instances, their order, the machine or the Python
version (a SHA-256 of the UTF-8 name, never the per-process salted ``hash()``),
so adding an instance moves no other one, and every machine computes the same
split without talking to the others.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runner.errors import UserError

FORMAT_HINT = ("give --shard I/N with 0 <= I < N, e.g. --shard 0/4 .. --shard 3/4 "
               "(in a Kubernetes Indexed Job: --shard $JOB_COMPLETION_INDEX/N)")


def shard_of(name: str, count: int) -> int:
    """The shard (``0 .. count-1``) the instance ``name`` belongs to when the fleet is split in ``count``."""
    if count < 1:
        raise ValueError(f"a split needs 1 or more shards, got {count}")
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise UserError(f"shard count must be a whole number, 1 or more, got {self.count!r}", hint=FORMAT_HINT)
        if isinstance(self.index, bool) or not isinstance(self.index, int) or not 0 <= self.index < self.count:
            raise UserError(f"shard index must be 0 to {self.count - 1} (0-based) for {self.count} shard"
                            f"{'s' if self.count != 1 else ''}, got {self.index!r}", hint=FORMAT_HINT)

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` (``"1/4"``); a UserError that says what is wrong otherwise."""
        raw = text.strip()
        index_text, slash, count_text = raw.partition("/")
        if not slash or not index_text or not count_text:
            missing = " (is $JOB_COMPLETION_INDEX set?)" if raw.startswith("/") else ""
            raise UserError(f"--shard {text!r}: expected I/N such as 0/4{missing}", hint=FORMAT_HINT)
        numbers = []
        for part, what in ((index_text, "index"), (count_text, "count")):
            if not re.fullmatch(r"[0-9]+", part.strip()):  # also refuses "-1" and "+1": the index is 0 or more
                raise UserError(f"--shard {text!r}: the {what} {part!r} is not a whole number, 0 or more",
                                hint=FORMAT_HINT)
            numbers.append(int(part.strip()))
        index, count = numbers
        if count < 1:
            raise UserError(f"--shard {text!r}: the fleet cannot be split in {count} shards", hint=FORMAT_HINT)
        if index >= count:
            raise UserError(f"--shard {text!r}: the index is 0-based, so it goes from 0 to {count - 1}",
                            hint=FORMAT_HINT)
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, name: str) -> bool:
        return shard_of(name, self.count) == self.index

    def pick(self, names: Iterable[str]) -> list[str]:
        """The names of ``names`` in this shard, in their order."""
        return [n for n in names if self.holds(n)]


@dataclass(frozen=True)
class ShardSelection:
    """What a shard picked of a run's selection: ``selected`` of ``total`` instances."""

    shard: Shard
    selected: int
    total: int

    def describe(self) -> str:
        """``shard 1/4: 13 of 50 instances``, or ``shard 3/4 selects none of the 50 instances``."""
        if self.selected == 0:
            return f"shard {self.shard} selects none of the {self.total} instance{'s' if self.total != 1 else ''}"
        return f"shard {self.shard}: {self.selected} of {self.total} instance{'s' if self.total != 1 else ''}"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.shard.index, "count": self.shard.count, "selected": self.selected,
                "total": self.total}
