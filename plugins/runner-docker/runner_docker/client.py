"""The Docker daemon, through the Docker SDK for Python (the ``docker`` package).

:func:`client` returns a client made by ``docker.from_env`` (so ``DOCKER_HOST``,
``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH`` are honoured, and the API version
is negotiated with the daemon), one per timeout, shared by every thread. Every
request it makes is bounded by that timeout (seconds without an answer). The
one exception is the listing of a local daemon's containers, which every
command makes first: :mod:`runner_docker.listing` asks it over the unix socket
without loading the SDK.

Every call to the daemon goes through :func:`calling`, which turns what the SDK
raises into the runner's errors: a daemon that cannot be reached is the user's
to fix (:class:`~runner.errors.UserError`: start it, or check DOCKER_HOST); an
API error or a timeout is a :class:`DockerError` carrying Docker's own
explanation. No SDK exception escapes, so no traceback reaches the user.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from runner.errors import RunnerError, UserError

if TYPE_CHECKING:  # pragma: no cover
    import docker

DEFAULT_TIMEOUT = 60.0
#: Connections kept per client: the provider brings up to 16 instances up at once.
MAX_POOL_SIZE = 24
DAEMON_HINT = "start the Docker daemon, or check DOCKER_HOST"

_clients: dict[tuple[str | None, float], docker.DockerClient] = {}
_lock = threading.Lock()


class DockerError(RunnerError):
    """A request to the Docker daemon failed (an API error, or no answer in time)."""

    def __init__(self, action: str, message: str, explanation: str = "", status: int | None = None):
        super().__init__(f"docker {action} {message}" + (f": {explanation.strip()}" if explanation.strip() else ""))
        self.action = action
        self.explanation = explanation
        self.status = status


def _without_ssh_daemons() -> None:
    """Keep the SDK from loading paramiko when ``DOCKER_HOST`` is not an ``ssh://`` address.

    ``import docker`` imports its ssh:// adapter, and with it paramiko (and invoke), at once:
    more than half of the SDK's import time, paid by every ``runner`` command of a docker stack
    (the openssh transport never needs paramiko). The SDK imports that adapter inside
    ``try/except ImportError`` and says "install paramiko" only when an ssh:// client is made,
    so marking the module absent before the first import keeps every other address working.
    """
    if "docker" in sys.modules or "paramiko" in sys.modules:  # too late, or nothing to save
        return
    if os.environ.get("DOCKER_HOST", "").startswith("ssh://"):
        return
    sys.modules.setdefault("docker.transport.sshconn", None)  # type: ignore[assignment]


def _sdk():  # -> the docker module
    _without_ssh_daemons()
    try:
        import docker
    except ImportError:
        raise UserError("the Docker SDK for Python is not installed",
                        hint="pip install 'docker>=7' (runner-docker depends on it)") from None
    return docker


def client(timeout: float = DEFAULT_TIMEOUT) -> docker.DockerClient:
    """A client of the daemon ``DOCKER_HOST`` names (the local socket without it); made once per timeout."""
    key = (os.environ.get("DOCKER_HOST"), timeout)
    with _lock:
        found = _clients.get(key)
        if found is not None:
            return found
    docker = _sdk()
    try:
        made = docker.from_env(timeout=timeout, max_pool_size=MAX_POOL_SIZE)  # asks the daemon its API version
        made.ping()
    except docker.errors.DockerException as exc:
        raise UserError(f"cannot reach the Docker daemon: {_reason(exc)}", hint=DAEMON_HINT) from None
    except Exception as exc:  # requests' connection errors, when the version was given
        raise UserError(f"cannot reach the Docker daemon: {exc}", hint=DAEMON_HINT) from None
    with _lock:
        kept = _clients.setdefault(key, made)
    if kept is not made:  # another thread made one first
        made.close()
    return kept


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.removeprefix("Error while fetching server API version: ") or type(exc).__name__


@contextlib.contextmanager
def calling(action: str, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Turn what the SDK raises inside the block into :class:`DockerError` or :class:`UserError`.

    ``action`` names the request in the message (``run runner-demo-web1``); ``timeout``
    is the client's, said in the message when the daemon did not answer in time.
    """
    docker = _sdk()
    import requests

    try:
        yield
    except docker.errors.APIError as exc:
        explanation = exc.explanation if isinstance(exc.explanation, str) else str(exc)
        raise DockerError(action, f"failed ({exc.status_code})", explanation or str(exc), exc.status_code) from None
    except requests.exceptions.Timeout:
        raise DockerError(action, f"got no answer from the Docker daemon within {timeout:g} s") from None
    except requests.exceptions.ConnectionError as exc:
        raise UserError(f"docker {action}: lost the Docker daemon: {exc}", hint=DAEMON_HINT) from None
    except docker.errors.DockerException as exc:
        raise DockerError(action, "failed", str(exc)) from None


def not_found() -> type[Exception]:
    """The SDK's NotFound (an API error with status 404), for callers that expect one."""
    return _sdk().errors.NotFound


def docker_available(timeout: float = 10.0) -> bool:
    """True when the daemon answers."""
    try:
        client(timeout)
    except UserError:
        return False
    return True


def image_exists(tag: str) -> bool:
    """True when the daemon has an image with this tag."""
    with calling(f"image inspect {tag}", 30.0):
        try:
            client(30.0).api.inspect_image(tag)
        except not_found():
            return False
    return True
