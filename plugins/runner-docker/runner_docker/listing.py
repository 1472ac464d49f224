"""The read every command makes first, without the SDK: the stack's containers, from the local daemon's socket.

Every ``runner`` command of a docker stack starts by listing the stack's
containers (their states, ports and addresses). Through the Docker SDK that
listing cost 70 ms of imports (requests, urllib3, charset_normalizer) and two
requests (the API version, a ping) before the one that counts; for a local
daemon it is one ``GET /containers/json`` over the unix socket with the
standard library's ``http.client``: the same rows the SDK returns. A path
without a version prefix is the daemon's own current API version.

Only the listing goes this way, and only when ``DOCKER_HOST`` is unset or a
``unix://`` socket. A ``tcp://`` or ``ssh://`` daemon (TLS, certificates) is
listed through the SDK, and every change to a container always goes through
the SDK (:mod:`runner_docker.client`).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse
from typing import Any

from runner.errors import UserError
from runner_docker.client import DAEMON_HINT, DEFAULT_TIMEOUT, DockerError

LOCAL_SOCKET = "/var/run/docker.sock"


def local_socket(environ: dict[str, str] | None = None) -> str | None:
    """The daemon's unix socket, or None when ``DOCKER_HOST`` names another kind of address."""
    host = (os.environ if environ is None else environ).get("DOCKER_HOST", "")
    if not host:
        return LOCAL_SOCKET
    if host.startswith("unix://"):
        return host[len("unix://"):] or LOCAL_SOCKET
    return None


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a unix socket (the daemon's ``Host`` header is not checked)."""

    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _explanation(body: bytes) -> str:
    """The daemon's ``{"message": ...}``, or the body as text."""
    try:
        return str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        return body.decode("utf-8", "replace")


def containers(label: str, path: str, timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
    """Every container (running or not) with the label ``label`` (``key=value``), as the daemon lists them."""
    action = f"ps --filter label={label}"
    query = urllib.parse.urlencode({"all": "1", "filters": json.dumps({"label": [label]})})
    conn = _UnixConnection(path, timeout)
    try:
        conn.request("GET", f"/containers/json?{query}")
        response = conn.getresponse()
        body = response.read()
    except TimeoutError:
        raise DockerError(action, f"got no answer from the Docker daemon within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise UserError(f"cannot reach the Docker daemon at {path}: {why}", hint=DAEMON_HINT) from None
    finally:
        conn.close()
    if response.status != 200:
        raise DockerError(action, f"failed ({response.status})", _explanation(body), response.status)
    try:
        rows = json.loads(body)
    except ValueError:
        raise DockerError(action, "failed", f"the daemon answered with no JSON: {body[:200]!r}") from None
    if not isinstance(rows, list):
        raise DockerError(action, "failed", f"the daemon answered with no list: {body[:200]!r}")
    return rows
