"""Talking to HAProxy's runtime API (its admin socket) on an lb host over SSH.

All commands for one host go in one SSH command: a small sh script opens the
socket once per runtime command (with socat, or python3 where socat is
missing) and frames each answer with a marker line. Every argument reaches
the host through :func:`shlex.quote`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from runner.balancers.api import BalancerError
from runner.errors import HostError
from runner.ssh.api import Transport as Connection

MARKER = "@@runner-haproxy-answer@@"
COMMAND_TIMEOUT = 30.0

#: names HAProxy accepts for backends and servers; anything else could smuggle a second command (';')
_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")

#: a minimal admin-socket client: sends stdin, prints the answer until HAProxy closes
PYTHON_CLIENT = """\
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    sys.exit("cannot connect to %s: %s" % (sys.argv[1], exc.strerror or exc))
s.sendall(sys.stdin.buffer.read())
while True:
    data = s.recv(65536)
    if not data:
        break
    sys.stdout.buffer.write(data)
"""

#: $1 = the python client, $2 = the socket, then one runtime command per argument
SCRIPT = f"""\
py=$1 sock=$2; shift 2
if command -v socat >/dev/null 2>&1; then use_socat=1; else use_socat=; fi
for c in "$@"; do
  printf '%s\\n' '{MARKER}'
  if [ -n "$use_socat" ]; then
    printf '%s\\n' "$c" | socat -t 20 stdio "UNIX-CONNECT:$sock" || exit
  else
    printf '%s\\n' "$c" | python3 -c "$py" "$sock" || exit
  fi
done
"""


def checked_name(name: str, what: str) -> str:
    """``name`` when HAProxy can take it as a backend or server name; else a :class:`BalancerError`."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise BalancerError(f"invalid {what} name {name!r}: HAProxy takes letters, digits and '_.:-'")
    return name


def remote_command(socket_path: str, commands: Sequence[str]) -> str:
    """The shell command that sends ``commands`` to the admin socket, one connection each."""
    args = " ".join(shlex.quote(a) for a in ("runner-haproxy", PYTHON_CLIENT, socket_path, *commands))
    return f"sh -c {shlex.quote(SCRIPT)} {args}"


def split_answers(text: str, count: int) -> list[str]:
    """The answer to each command, from the framed output of :func:`remote_command`."""
    parts = text.split(MARKER + "\n")
    answers = parts[1:]
    if len(answers) != count:
        raise ValueError(f"expected {count} answers, got {len(answers)}")
    return answers


def run_runtime(connection: Connection, socket_path: str, commands: Sequence[str]) -> list[str]:
    """Each command's answer from HAProxy on one host; a :class:`BalancerError` when the socket fails."""
    host = connection.target.name
    try:
        result = connection.run(remote_command(socket_path, commands), timeout=COMMAND_TIMEOUT)
    except HostError as exc:
        raise BalancerError(exc.message, host) from None
    stderr = result.stderr.decode("utf-8", "replace").strip()
    if not result.ok:
        raise BalancerError(
            f"HAProxy's admin socket {socket_path} did not answer {commands[0]!r} (exit {result.exit_status}): "
            f"{stderr or result.text.strip() or 'no output'} (is haproxy running, with "
            f"`stats socket {socket_path} level admin` in its config?)", host)
    try:
        return split_answers(result.text, len(commands))
    except ValueError as exc:
        raise BalancerError(f"unexpected output from the admin socket ({exc}): {result.text[:300]!r}", host) from None
