"""The docker provider's listing over the local daemon's unix socket (runner_docker.listing), against a small
HTTP server of the test's own on a unix socket: what it asks, what it returns, and the errors it raises."""

from __future__ import annotations

import json
import socketserver
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from runner.errors import UserError

pytest.importorskip("runner_docker")
from runner_docker import listing  # noqa: E402
from runner_docker.client import DockerError  # noqa: E402


class _Daemon(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, status: int, body: bytes):
        self.status, self.body, self.asked = status, body, []
        super().__init__(str(path), _Handler)


class _Handler(BaseHTTPRequestHandler):
    def address_string(self) -> str:  # a unix socket has no client address
        return "local"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        server: _Daemon = self.server  # type: ignore[assignment]
        server.asked.append(self.path)
        self.send_response(server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(server.body)))
        self.end_headers()
        self.wfile.write(server.body)


@pytest.fixture
def daemon(tmp_path: Path):
    made: list[_Daemon] = []

    def start(status: int, body: bytes) -> _Daemon:
        server = _Daemon(tmp_path / f"d{len(made)}.sock", status, body)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        made.append(server)
        return server

    yield start
    for server in made:
        server.shutdown()
        server.server_close()


def test_the_socket_is_the_local_one_unless_docker_host_names_another_kind() -> None:
    assert listing.local_socket({}) == "/var/run/docker.sock"
    assert listing.local_socket({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}) == "/run/user/1000/docker.sock"
    assert listing.local_socket({"DOCKER_HOST": "tcp://127.0.0.1:2376"}) is None
    assert listing.local_socket({"DOCKER_HOST": "ssh://me@builder"}) is None


def test_one_request_for_every_container_of_the_label(daemon) -> None:
    rows = [{"Id": "abc", "Names": ["/runner-s-web1"], "State": "running", "Labels": {"runner.stack": "s"}}]
    server = daemon(200, json.dumps(rows).encode())
    assert listing.containers("runner.stack=s 'x'", server.server_address) == rows
    [asked] = server.asked
    path, _, query = asked.partition("?")
    assert path == "/containers/json"
    assert urllib.parse.parse_qs(query) == {"all": ["1"], "filters": ['{"label": ["runner.stack=s \'x\'"]}']}


def test_an_error_of_the_daemon_is_a_docker_error_with_its_message(daemon) -> None:
    server = daemon(500, b'{"message": "the disk is full"}')
    with pytest.raises(DockerError) as exc:
        listing.containers("runner.stack=s", server.server_address)
    assert exc.value.status == 500 and "the disk is full" in str(exc.value)
    with pytest.raises(DockerError, match="no list"):
        listing.containers("runner.stack=s", daemon(200, b'{"a": 1}').server_address)


def test_no_daemon_at_the_socket_is_the_users_to_fix(tmp_path: Path) -> None:
    with pytest.raises(UserError) as exc:
        listing.containers("runner.stack=s", str(tmp_path / "none.sock"))
    assert "cannot reach the Docker daemon at" in str(exc.value) and exc.value.hint
