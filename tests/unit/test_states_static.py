"""OpsWorks statuses of static instances, through runner.api, without Docker.

web1's port accepts TCP and hangs up (the static provider's probe says online,
SSH fails); web2's port is closed (the probe itself says connection_lost).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from net_support import listening_port

from runner.api import Session
from runner.api.setup_record import for_stack
from runner.providers.api import CONNECTION_LOST, ONLINE, SETUP_FAILED


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return port


@pytest.fixture
def stack_file(tmp_path: Path):
    books = tmp_path / "books" / "web"
    (books / "recipes").mkdir(parents=True)
    (books / "metadata.yml").write_text("name: web\nversion: 0.1.0\n")
    (books / "recipes" / "default.py").write_text('file("/tmp/x", content="x")\n')
    with listening_port(hang_up=True) as port:
        path = tmp_path / "stack.yml"
        path.write_text(f"""\
stack:
  name: states
  provider: static
  ssh: {{user: root, host_key_policy: "off", connect_timeout: 5}}
  cookbooks: [{{path: books}}]
layers:
  web: {{recipes: {{setup: [web]}}}}
instances:
  web1: {{layers: [web], address: 127.0.0.1, port: {port}}}
  web2: {{layers: [web], address: 127.0.0.1, port: {_closed_port()}}}
""")
        yield path


def test_status_says_connection_lost_when_ssh_cannot_reach_an_online_host(stack_file: Path) -> None:
    with Session.open(stack_file) as session:
        listed = {r.instance: r for r in session.instances_list().instances}
        assert listed["web1"].status == ONLINE and listed["web1"].provider_status is None
        assert listed["web2"].status == CONNECTION_LOST  # the static probe's own word now
        report = session.status()
    rows = {i.instance: i.to_dict() for i in report.instances}
    assert rows["web1"]["status"] == CONNECTION_LOST and rows["web1"]["provider_status"] == ONLINE
    assert rows["web1"]["reason"] == rows["web1"]["error"] and rows["web1"]["setup"] is None
    assert rows["web2"]["status"] == CONNECTION_LOST and "provider_status" not in rows["web2"]
    assert not report.ok


def test_a_setup_that_cannot_reach_its_host_leaves_the_record_alone(stack_file: Path) -> None:
    with Session.open(stack_file) as session:
        report = session.setup()
        assert not report.ok
        assert for_stack(session.stack).entries() == {}  # the setup never started on either host
        for_stack(session.stack).settle({"web1": "execute[false] failed"}, [])
        rows = {r.instance: r.to_dict() for r in session.instances_list().instances}
    assert rows["web1"]["status"] == SETUP_FAILED and rows["web1"]["provider_status"] == ONLINE
    assert rows["web1"]["reason"] == "execute[false] failed"
    assert rows["web2"]["status"] == CONNECTION_LOST  # not online: the provider's word, record or not
