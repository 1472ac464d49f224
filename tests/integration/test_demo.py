"""The README's demo, end to end: `scripts/demo up`, traffic through the balancer, a second deploy, `down`.

It runs the real script (which installs runner into the clone's .venv when
needed) on a copy of examples/demo/stack.yml with a test stack name, so a
demo someone has running is left alone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.request
import uuid

import pytest
import yaml
from deploy_support import REPO, Traffic, answers, wait_for

from runner.testing import OWNER_FILE, STACK_PREFIX


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO / "scripts" / "demo"), *args], capture_output=True, text=True, timeout=1800)


def containers(stack: str) -> list[str]:
    out = subprocess.run(["docker", "ps", "-a", "--filter", f"label=runner.stack={stack}", "--format",
                          "{{.Names}}"], capture_output=True, text=True, timeout=60).stdout
    return out.split()


@pytest.fixture
def demo_copy(tmp_path, runner_docker_session):
    """examples/demo/stack.yml under a test stack name, with its own copy of the app."""
    document = yaml.safe_load((REPO / "examples" / "demo" / "stack.yml").read_text())
    name = f"{STACK_PREFIX}demo{uuid.uuid4().hex[:6]}"
    document["stack"]["name"] = name
    document["stack"]["cookbooks"] = [{"path": str(REPO / "cookbooks")}]
    app = tmp_path / "hello"
    shutil.copytree(REPO / "apps" / "hello", app)
    document["apps"]["hello"]["source"]["path"] = str(app)
    (tmp_path / OWNER_FILE).write_text(f"{os.getpid()}\n")  # a dead test run's containers get swept
    stack = tmp_path / "stack.yml"
    stack.write_text(yaml.safe_dump(document, sort_keys=False))
    yield stack, name, app
    demo("down", str(stack))
    for leftover in containers(name):
        subprocess.run(["docker", "rm", "-f", leftover], capture_output=True, timeout=60)


def test_demo_up_deploy_again_and_down(demo_copy) -> None:
    stack, name, app = demo_copy
    up = demo("up", str(stack))
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    found = re.search(r"The demo is up\. The load balancer answers on (http://127\.0\.0\.1:\d+/)", up.stdout)
    assert found, up.stdout[-2000:]
    url = found.group(1)
    for label in ("Docker engine", "host image", "starting the instances", "deploy hello"):
        assert f"==> {label}" in up.stderr, f"no progress line for {label}"
    assert "converge of stack" in up.stderr

    first = answers(url, 20)
    assert {host for host, _ in first} == {"app1", "app2"}, "both app hosts answer through the balancer"

    server = app / "server.py"
    server.write_text(server.read_text().replace('f"{greeting} from', 'f"{greeting} (v2) from'))
    traffic = Traffic(url)
    traffic.start()
    try:
        deploy = subprocess.run([str(REPO / ".venv" / "bin" / "runner"), "-f", str(stack), "deploy", "hello"],
                                capture_output=True, text=True, timeout=600)
    finally:
        traffic.stop()
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert traffic.failures == [], f"{len(traffic.failures)} requests failed during the deploy"
    assert traffic.ok > 0
    wait_for(url, {"app1", "app2"})
    texts = set()
    for _ in range(20):
        with urllib.request.urlopen(url, timeout=5) as response:
            texts.add(response.read().decode().strip().split(", release")[0])
    assert texts == {"hi (v2) from app1", "hi (v2) from app2"}, texts

    down = demo("down", str(stack))
    assert down.returncode == 0, down.stdout + down.stderr
    assert containers(name) == [], "teardown leaves no container"
