"""A thin wrapper over the ``docker`` command line.

The CLI rather than the Docker API: nothing more to install, and it behaves
exactly as the user's own ``docker`` does (contexts, DOCKER_HOST, API version
negotiation). Every call is an argv list with a timeout; a failure raises
:class:`DockerError` carrying docker's own stderr.
"""

from __future__ import annotations

import shutil
import subprocess

from runner.errors import RunnerError, UserError

DOCKER = "docker"
DEFAULT_TIMEOUT = 60.0


class DockerError(RunnerError):
    """A docker command failed (non-zero exit or timeout)."""

    def __init__(self, argv: list[str], message: str, stderr: str = "", returncode: int | None = None):
        super().__init__(f"`{' '.join(argv[:3])}` {message}" + (f": {stderr.strip()}" if stderr.strip() else ""))
        self.argv = argv
        self.stderr = stderr
        self.returncode = returncode


def _not_running(stderr: str) -> bool:
    return "Cannot connect to the Docker daemon" in stderr or "Is the docker daemon running" in stderr


def docker(
    *args: str,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``docker ARGS...``; return the completed process (text output).

    Raises :class:`UserError` when docker is not installed or its daemon is not
    running (the user's to fix), :class:`DockerError` when the command fails
    and ``check`` is true, or when it takes longer than ``timeout`` seconds.
    """
    argv = [DOCKER, *args]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    except FileNotFoundError:
        hint = "install Docker to use the docker provider"
        raise UserError("the docker command is not installed", hint=hint) from None
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise DockerError(argv, f"timed out after {timeout:g} s", stderr) from None
    if proc.returncode != 0:
        if _not_running(proc.stderr):
            raise UserError(f"docker: {proc.stderr.strip()}", hint="start the Docker daemon, or check DOCKER_HOST")
        if check:
            raise DockerError(argv, f"failed with exit code {proc.returncode}", proc.stderr, proc.returncode)
    return proc


def output(*args: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``docker ARGS...``'s standard output, stripped."""
    return docker(*args, timeout=timeout).stdout.strip()


def docker_available(timeout: float = 10.0) -> bool:
    """True when the docker command is installed and its daemon answers."""
    if shutil.which(DOCKER) is None:
        return False
    try:
        proc = subprocess.run(
            [DOCKER, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


def image_exists(tag: str) -> bool:
    """True when the local daemon has an image with this tag."""
    return docker("image", "inspect", "--format", "{{.Id}}", tag, check=False, timeout=30).returncode == 0
