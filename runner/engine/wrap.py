"""Shell that shares a host run's commands: run first in the probe's command, last in the apply's.

A deployment's steps around its recipes (stage the release and switch
``current`` before them; the after_restart hook, the health check and the
bookkeeping after them) would each cost a remote command of their own. With a
:class:`Wrap` on the :class:`~runner.engine.host.HostJob`, ``before`` runs in
the probe's command (its failure stops that command before the probe), and
``after`` in the apply's command once every resource applied (when nothing is
to apply, the caller runs it alone). Each part runs in a subshell of its own
(:func:`part`), so its ``set -e``, ``exit``, ``cd`` and variables stay its own;
the parts' outputs are framed by random markers.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from runner.ssh.api import CommandResult


@dataclass
class Wrap:
    """What a host run's probe and apply commands also carry (see the module)."""

    before: str = ""  # shell run before the probe, in its command ($1: the command's temp dir)
    stdin: bytes = b""  # what ``before`` reads on its stdin (the probe itself reads none)
    hide: str | None = None  # a part of ``before`` that -v must not show (a presigned URL ...)
    #: given ``before``'s output: the shell run after a successful apply, in its command (None: nothing)
    after: Callable[[str], str | None] | None = None
    #: filled in by the run: ``before``'s stdout, and ``after``'s result when it ran in the apply's command
    before_output: str = ""
    after_result: CommandResult | None = None
    after_script: str | None = None  # what ``after`` gave (for a caller that runs it alone)
    marker: str = field(default_factory=lambda: secrets.token_hex(8))  # frames before's and after's output


class WrapFailed(Exception):
    """``before`` failed: the probe did not run. ``result`` holds ``before``'s output and exit status."""

    def __init__(self, result: CommandResult):
        super().__init__(f"exit status {result.exit_status}")
        self.result = result


def part(script: str) -> list[str]:
    """Lines that run ``script`` in a subshell, whose exit status is then ``$?``.

    A subshell, not a file run by another sh: no ``cat`` and no ``sh`` process per part.
    Its status must be read on a line of its own (``st=$?``, :data:`STOP_ON_FAILURE`):
    a subshell on the left of ``||`` or ``&&`` runs with its ``set -e`` ignored.
    """
    return ["(", script.rstrip("\n"), ")"]


#: the line after a :func:`part` that ends the script with the part's status when it failed
STOP_ON_FAILURE = 'st=$?; [ "$st" -eq 0 ] || exit "$st"'


def chain(scripts: Sequence[str]) -> str:
    """One script running ``scripts`` in order, each in its own subshell; stops at the first that fails."""
    lines: list[str] = []
    for script in scripts:
        lines += [*part(script), STOP_ON_FAILURE]
    return "\n".join(lines) + "\n"


def probe_with_before(wrap: Wrap, probe: str) -> str:
    """The probe's script with ``wrap.before`` first; prints the ``before-ok`` marker between them."""
    marker = wrap.marker
    return "\n".join(part(wrap.before) + [
        STOP_ON_FAILURE, f"printf '\\n%s\\n' '@@before-ok:{marker}'", probe])


def split_before(wrap: Wrap, result: CommandResult) -> CommandResult:
    """``before``'s output into ``wrap.before_output``; the probe's result without it. Raises WrapFailed."""
    marker = f"\n@@before-ok:{wrap.marker}\n".encode()
    at = result.stdout.find(marker)
    if at < 0:
        raise WrapFailed(result)
    wrap.before_output = result.stdout[:at].decode("utf-8", "replace")
    return CommandResult(result.command, result.exit_status, result.stdout[at + len(marker):], result.stderr,
                         result.seconds)


def apply_with_after(script: bytes, after: str, wrap: Wrap) -> bytes:
    """The apply script, then ``after`` when no resource failed (the script's last line tests that)."""
    marker = wrap.marker
    tail = "\n".join([f"printf '\\n%s\\n' '@@after:{marker}'", *part(after)]) + "\n"
    # the apply script ends with `[ -z "$failed" ]`: keep its status when it failed, else run after
    return script + b'if [ -n "$failed" ]; then exit 1; fi\nset -- "$T"\n' + tail.encode()


def split_after(wrap: Wrap, result: CommandResult) -> CommandResult:
    """The apply's result without ``after``'s output, which goes to ``wrap.after_result`` if it ran."""
    marker = f"\n@@after:{wrap.marker}\n".encode()
    at = result.stdout.find(marker)
    if at < 0:
        return result
    wrap.after_result = CommandResult(result.command, result.exit_status, result.stdout[at + len(marker):],
                                      result.stderr, result.seconds)
    return CommandResult(result.command, 0, result.stdout[:at], result.stderr, result.seconds)
