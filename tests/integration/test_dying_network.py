"""A dying network: paused and killed hosts, mute and closed ports, Ctrl-C, all bounded well under a minute.

Each test sets small keepalive and timeout values in its stack.yml, so a
fix that works shows within seconds and a regression fails on a bounded
wait instead of hanging for the 600 s command timeout.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from net_support import listening_port
from test_converge import stack_config, write_cookbook

from runner.errors import HostError
from runner.ssh.connection import Connection
from runner.ssh.target import SshTarget

#: a host with /opt/slow sleeps 30 s in its apply; the others sleep 1 s
SLOW_OR_FAST = {"default": '''
    execute("if [ -e /opt/slow ]; then sleep 30; else sleep 1; fi; touch /opt/slept", creates="/opt/slept")
'''}
SLOW = {"default": '''
    execute("sleep 30; touch /opt/slept", creates="/opt/slept")
'''}
#: about 3 s to notice a dead peer; command and connect timeouts far below the defaults
FAST_SSH = {"keepalive_interval": 1, "keepalive_count": 3, "command_timeout": 45, "connect_timeout": 3}


def with_ssh(config: dict, ssh: dict) -> dict:
    config["stack"]["ssh"] = ssh
    return config


class LiveRun:
    """``runner ARGS`` in a subprocess; its merged output read line by line, each with the time it arrived."""

    def __init__(self, stack_file: Path, *args: str) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "runner", *args, "-f", str(stack_file)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[tuple[float, str]] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float) -> float:
        """When a line matching ``pattern`` arrived; fails after ``timeout`` seconds."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for when, line in self.lines:
                    if regex.search(line):
                        return when
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n{self.text}")
                self._changed.wait(left)

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"runner still running after {timeout} s:\n{self.text}") from None
        self._reader.join(5)
        return code

    @property
    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def docker(*args: str) -> None:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {proc.stderr.strip()}")


def test_a_paused_host_is_lost_by_keepalive_and_the_others_are_printed_when_they_finish(docker_hosts,
                                                                                         tmp_path) -> None:
    books = write_cookbook(tmp_path, "n", SLOW_OR_FAST)
    hosts = docker_hosts(2, config=with_ssh(stack_config(books, ["n"], setup=[]), FAST_SSH))
    slow, fast = hosts.names
    hosts.exec(slow, "touch", "/opt/slow")
    container = hosts.container(slow)
    run = LiveRun(hosts.stack.path, "converge")
    paused = False
    try:
        run.wait_for(rf"{slow}: applying", 60)
        time.sleep(1)  # the apply script is under way: its sleep 30 has begun
        docker("pause", container)
        paused, paused_at = True, time.monotonic()
        fast_done = run.wait_for(rf"\] {fast}: done", 20)
        slow_failed = run.wait_for(rf"\] {slow}: FAILED", 20)
        assert slow_failed - paused_at < 15, run.text  # the keepalives, not the 45 s command timeout
        assert fast_done < slow_failed, run.text  # printed when it finished, not when the last host gave up
        assert run.wait(15) == 1, run.text
    finally:
        if paused:
            docker("unpause", container)
        run.close()
    failure = next(line for _, line in run.lines if re.search(rf"\] {slow}: FAILED", line))
    assert "connection lost" in failure and "execute[" in failure, run.text
    assert "wrapper" not in run.text and "mktemp" not in run.text and "exit status -1" not in run.text


def test_a_killed_host_says_connection_lost_and_names_the_resource(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path, "n", SLOW)
    hosts = docker_hosts(1, config=with_ssh(stack_config(books, ["n"], setup=[]), FAST_SSH))
    (name,) = hosts.names
    run = LiveRun(hosts.stack.path, "converge", "--format", "json")
    try:
        run.wait_for(rf"{name}: applying", 60)
        time.sleep(1)  # the apply script is under way
        docker("kill", hosts.container(name))
        assert run.wait(20) == 1, run.text
    finally:
        run.close()
    report = json.loads(run.text[run.text.index("{"):])
    error = report["hosts"][0]["error"]
    assert "connection lost" in error and "execute[sleep 30; touch /opt/slept]" in error, error
    assert "stopped early" not in error and "exit status -1" not in error


def test_a_command_timeout_names_the_resource_that_was_running(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path, "n", SLOW)
    hosts = docker_hosts(1, config=with_ssh(stack_config(books, ["n"], setup=[]), {**FAST_SSH, "command_timeout": 3}))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "runner", "converge", "--format", "json",
                           "-f", str(hosts.stack.path)], capture_output=True, text=True, timeout=40)
    assert proc.returncode == 1 and time.monotonic() - started < 30, proc.stderr
    host = json.loads(proc.stdout)["hosts"][0]
    assert host["cause"] == "timeout"
    assert host["error"].startswith("command timed out after 3 s in execute[sleep 30; touch /opt/slept]"), host
    assert "mktemp" not in host["error"]


@pytest.fixture
def mute_listener():
    """A port on 127.0.0.1 that accepts connections and never says a word (until the test ends)."""
    with listening_port(hang_up=False) as port:
        yield port


def _static_stack(tmp_path: Path, port: int) -> Path:
    books = write_cookbook(tmp_path / "books", "n", {"default": 'file("/tmp/x", content="x")\n'})
    path = tmp_path / "stack.yml"
    path.write_text(f"""\
stack:
  name: mute
  provider: static
  ssh: {{user: root, host_key_policy: "off", connect_timeout: 2}}
  cookbooks: [{{path: {books}}}]
layers:
  web: {{recipes: {{configure: [n]}}}}
instances:
  web1: {{layers: [web], address: 127.0.0.1, port: {port}}}
""")
    return path


def test_a_port_that_never_sends_a_banner_is_named_without_library_noise(tmp_path, mute_listener) -> None:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "runner", "converge", "-f", str(_static_stack(tmp_path,
                           mute_listener))], capture_output=True, text=True, timeout=30)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert f"no SSH banner from 127.0.0.1:{mute_listener}" in output, output
    for noise in ("Traceback", "paramiko", "Exception", "No existing session", "Error reading SSH protocol banner"):
        assert noise not in output, output
    assert time.monotonic() - started < 15, output


def test_a_closed_port_names_the_port_it_tried(mute_listener) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(HostError) as refused:
        Connection(SshTarget("web1", "127.0.0.1", closed, host_key_policy="off", connect_timeout=2)).open()
    assert refused.value.cause == "refused" and f"connection refused at 127.0.0.1:{closed}" in str(refused.value)
    with pytest.raises(HostError) as mute:
        Connection(SshTarget("web1", "127.0.0.1", mute_listener, host_key_policy="off", connect_timeout=1)).open()
    assert mute.value.cause == "banner" and f"no SSH banner from 127.0.0.1:{mute_listener}" in str(mute.value)


def test_ctrl_c_stops_at_once_and_names_the_hosts_cut_off_mid_apply(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path, "n", SLOW)
    hosts = docker_hosts(2, config=with_ssh(stack_config(books, ["n"], setup=[]), FAST_SSH))
    first, second = hosts.names
    run = LiveRun(hosts.stack.path, "converge")
    try:
        run.wait_for(rf"{first}: applying", 60)
        run.wait_for(rf"{second}: applying", 20)
        time.sleep(0.5)
        interrupted = time.monotonic()
        os.kill(run.proc.pid, signal.SIGINT)
        code = run.wait(15)
        assert time.monotonic() - interrupted < 3, run.text
    finally:
        run.close()
    assert code == 130, run.text
    assert f"cut off mid-apply: {first}, {second}" in run.text, run.text
    assert "the next converge completes them" in run.text
    assert "Traceback" not in run.text
