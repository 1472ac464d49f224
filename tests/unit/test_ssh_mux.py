"""The mux protocol messages runner says to an OpenSSH master, and how it reads the master's (PROTOCOL.mux)."""

from __future__ import annotations

import os
import socket
import struct
import threading
from pathlib import Path

import pytest

from runner.ssh import mux


def _u32(data: bytes, at: int) -> int:
    return struct.unpack_from(">I", data, at)[0]


def _strings(data: bytes, at: int) -> list[bytes]:
    found = []
    while at < len(data):
        length = _u32(data, at)
        found.append(data[at + 4:at + 4 + length])
        at += 4 + length
    return found


def test_a_new_session_request_is_a_hello_then_the_session_packet() -> None:
    wire = mux.new_session_request("echo 'a b'; ls", {"TERM": "xterm", "LANG": "C.UTF-8"}, request_id=7)
    packets = mux.parse_packets(bytearray(wire))
    assert [kind for kind, _ in packets] == [mux.HELLO, mux.NEW_SESSION]
    assert _u32(packets[0][1], 0) == 4
    body = packets[1][1]
    assert _u32(body, 0) == 7  # the request id
    assert _u32(body, 4) == 0  # the reserved string, empty
    assert [_u32(body, 8 + 4 * i) for i in range(5)] == [0, 0, 0, 0, 0xFFFFFFFF]  # tty, x11, agent, subsystem, escape
    assert _strings(body, 28) == [b"xterm", b"echo 'a b'; ls", b"TERM=xterm", b"LANG=C.UTF-8"]


def test_the_command_travels_as_its_bytes_whatever_it_holds() -> None:
    hostile = "a 'q' \"dq\" $(x) `y`; z & | \\ * ~ \n newline \udcff"
    body = mux.parse_packets(bytearray(mux.new_session_request(hostile, {})))[1][1]
    assert _strings(body, 28) == [b"", hostile.encode("utf-8", "surrogateescape")]


def test_packets_are_taken_whole_and_a_part_waits() -> None:
    exit_message = struct.pack(">IIII", 12, mux.EXIT_MESSAGE, 3, 42)
    buffer = bytearray(exit_message + exit_message[:6])
    assert mux.parse_packets(buffer) == [(mux.EXIT_MESSAGE, struct.pack(">II", 3, 42))]
    assert bytes(buffer) == exit_message[:6]
    buffer += exit_message[6:]
    assert len(mux.parse_packets(buffer)) == 1 and not buffer


def test_a_length_outside_the_protocol_is_refused() -> None:
    with pytest.raises(mux.MuxUnsupported):
        mux.parse_packets(bytearray(struct.pack(">I", 1 << 30) + b"\0" * 8))


def test_nothing_at_the_socket_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(mux.MuxUnavailable):
        mux.MuxSession(tmp_path / "gone", "true")
    with pytest.raises(mux.MuxUnavailable):
        mux.master_version(tmp_path / "gone")


def _fake_master(path: Path, replies: bytes, version: int = 4) -> threading.Thread:
    """A socket that says a hello of ``version``, takes a request and its three descriptors, then says ``replies``."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            conn.sendall(struct.pack(">III", 8, mux.HELLO, version))
            fds = []
            while len(fds) < 3:
                _, got, _, _ = socket.recv_fds(conn, 4096, 1)
                fds += got
            with open(fds[1], "wb") as out:  # the session's stdout: what "the host" prints
                out.write(b"hello from the host\n")
            for fd in fds[::2]:  # stdin and stderr: the host is done with them
                os.close(fd)
            conn.sendall(replies)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_session_reads_its_output_and_its_exit_status(tmp_path: Path) -> None:
    path = tmp_path / "m"
    thread = _fake_master(path, struct.pack(">IIII", 12, mux.SESSION_OPENED, 0, 5)
                          + struct.pack(">IIII", 12, mux.EXIT_MESSAGE, 5, 3))
    session = mux.MuxSession(path, "true", {})
    assert session.stdout.read() == b"hello from the host\n"
    assert session.wait(10) == 3
    thread.join(10)


def test_a_session_refused_says_why_as_ssh_would(tmp_path: Path) -> None:
    path = tmp_path / "m"
    reason = b"Session open refused by peer"
    failure = struct.pack(">II", mux.FAILURE, 0) + struct.pack(">I", len(reason)) + reason
    thread = _fake_master(path, struct.pack(">I", len(failure)) + failure)
    session = mux.MuxSession(path, "true", {})
    assert session.wait(10) == mux.SSH_FAILED
    assert b"session request failed: Session open refused by peer" in session.error
    thread.join(10)


def test_another_protocol_version_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "m"
    thread = _fake_master(path, b"", version=5)
    session = mux.MuxSession(path, "true", {})
    with pytest.raises(mux.MuxUnsupported):
        session.wait(10)
    thread.join(10)


def test_a_descriptor_above_selects_limit_is_waited_on(tmp_path: Path) -> None:
    """A controller of a few hundred hosts holds descriptors above 1024, which select() refuses."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    high = 1500 if hard == resource.RLIM_INFINITY or hard > 1600 else hard - 10
    if soft != resource.RLIM_INFINITY and soft <= high:
        resource.setrlimit(resource.RLIMIT_NOFILE, (high + 10, hard))
    r, w = os.pipe()
    try:
        os.dup2(r, high)
        assert not mux.readable(high, 0)
        os.write(w, b"x")
        assert mux.readable(high, 1.0)
    finally:
        for fd in (r, w, high):
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
