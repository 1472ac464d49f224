"""The docker provider loads the Docker SDK without paramiko unless DOCKER_HOST is an ssh:// address.

Each case runs in a fresh interpreter: what is imported is process-wide.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("docker")

PROBE = (
    "import sys\n"
    "from runner_docker import client\n"
    "docker = client._sdk()\n"
    "print('paramiko' in sys.modules, callable(docker.from_env), docker.errors.NotFound.__name__)\n"
)


def _fresh(code: str, docker_host: str | None = None) -> str:
    """What ``code`` prints in a fresh interpreter with ``DOCKER_HOST`` as given (unset: None)."""
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    if docker_host is not None:
        env["DOCKER_HOST"] = docker_host
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _imports(docker_host: str | None) -> str:
    return _fresh(PROBE, docker_host)


def test_a_local_daemon_needs_no_paramiko() -> None:
    assert _imports(None) == "False True NotFound"
    assert _imports("unix:///var/run/docker.sock") == "False True NotFound"
    assert _imports("tcp://127.0.0.1:2375") == "False True NotFound"


def test_an_ssh_daemon_gets_the_sdk_with_its_ssh_adapter() -> None:
    assert _imports("ssh://runner@127.0.0.1") == "True True NotFound"


def test_a_client_of_a_local_address_is_made_without_the_ssh_adapter() -> None:
    code = ("from runner_docker import client\n"
            "docker = client._sdk()\n"
            "api = docker.APIClient(base_url='tcp://127.0.0.1:1', version='1.41')\n"
            "print(api.base_url)\n")
    assert _fresh(code) == "http://127.0.0.1:1"


def test_the_provider_loads_no_sdk_until_it_changes_a_container() -> None:
    """Listing a local daemon's containers (every command's first read) goes without the SDK (runner_docker.listing)."""
    code = ("import sys\n"
            "import runner_docker.provider, runner_docker.listing\n"
            "print('docker' in sys.modules, 'requests' in sys.modules)\n")
    assert _fresh(code) == "False False"
