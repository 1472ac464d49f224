"""How a script travels to a host: on stdin, never on the command line.

The remote command is a fixed wrapper that reads exactly the script's length
from stdin into a private temporary directory and runs it; whatever follows on
stdin (payloads: file contents) is left for the script to read. The script's
text therefore never shows in a process list, and its size is not bounded by
the command-line limit.
"""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.ssh.connection import CommandResult, Connection


def wrapper(script: bytes) -> str:
    """The remote command that runs ``script`` (sent first on stdin) with its private temp dir as $1."""
    n = len(script)
    return (
        'T=$(mktemp -d "${TMPDIR:-/tmp}/.runner-XXXXXX") || exit 125; '
        "trap 'rm -rf \"$T\"' EXIT HUP INT TERM PIPE; "
        f'head -c {n} > "$T/script" || exit 125; '
        'sh "$T/script" "$T"'
    )


def run_script(conn: Connection, script: bytes, payload: bytes | Iterable[bytes] = b"") -> CommandResult:
    """Run ``script`` on the connection's host; ``payload`` follows it on stdin for the script to read.

    ``payload`` is bytes, or chunks (e.g. files read as they are sent): then it is streamed, never
    joined in memory.
    """
    if isinstance(payload, bytes):
        return conn.run(wrapper(script), stdin=script + payload)
    return conn.run(wrapper(script), stdin=itertools.chain((script,), payload))


def quote_all(values: list[str]) -> str:
    return " ".join(shlex.quote(v) for v in values)
