"""The docker provider's SSH key pair and known_hosts file (no Docker needed)."""

from __future__ import annotations

import stat
import threading

import paramiko
import pytest
from runner_docker import keys

from runner.ssh import known_hosts

KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEgyvw1BbB0f4TM+SDIadPjbxK7SzGc5lMwG1yLqsdUq"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0i2pRuvRq5bTn9mUYI2sRsK0lE7cH0yOmoGbVbSAAe"


def test_key_is_made_once_with_private_modes(tmp_path):
    state = tmp_path / ".runner"
    private, public = keys.ensure_key(state)
    assert private == state / "id_ed25519"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert private.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert public.startswith("ssh-ed25519 AAAA")
    assert (state / "id_ed25519.pub").read_text().strip() == public
    assert keys.ensure_key(state) == (private, public)  # second call: same key


def test_key_loads_with_paramiko_and_matches_public_line(tmp_path):
    private, public = keys.ensure_key(tmp_path)
    loaded = paramiko.Ed25519Key.from_private_key_file(str(private))
    assert f"{loaded.get_name()} {loaded.get_base64()}" == " ".join(public.split()[:2])


def test_loose_key_modes_are_tightened(tmp_path):
    private, _ = keys.ensure_key(tmp_path)
    private.chmod(0o644)
    keys.ensure_key(tmp_path)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_wrong_pub_file_is_rewritten(tmp_path):
    _, public = keys.ensure_key(tmp_path)
    (tmp_path / "id_ed25519.pub").write_text("garbage\n")
    assert keys.ensure_key(tmp_path)[1] == public
    assert (tmp_path / "id_ed25519.pub").read_text().strip() == public


def test_concurrent_first_use_agrees_on_one_key(tmp_path):
    results = []
    threads = [threading.Thread(target=lambda: results.append(keys.ensure_key(tmp_path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len({public for _, public in results}) == 1


def test_host_pattern():
    assert known_hosts.host_pattern("127.0.0.1", 22) == "127.0.0.1"
    assert known_hosts.host_pattern("127.0.0.1", 2222) == "[127.0.0.1]:2222"


def test_record_writes_openssh_line_readable_by_paramiko(tmp_path):
    path = tmp_path / "known_hosts"
    known_hosts.record(path, "127.0.0.1", 32768, KEY_A + " root@app1", comment="runner-s-app1")
    assert path.read_text() == f"[127.0.0.1]:32768 {KEY_A} runner-s-app1\n"
    loaded = paramiko.HostKeys(str(path))
    assert loaded.lookup("[127.0.0.1]:32768")["ssh-ed25519"].get_base64() == KEY_A.split()[1]


def test_record_replaces_same_port_and_same_comment_only(tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text(f"# mine\nexample.org {KEY_B}\n[127.0.0.1]:40000 {KEY_B} other\n")
    known_hosts.record(path, "127.0.0.1", 32768, KEY_A, comment="c1")
    known_hosts.record(path, "127.0.0.1", 32768, KEY_B, comment="c1")  # same port: replaced
    assert known_hosts.lookup(path, "127.0.0.1", 32768) == [KEY_B]
    known_hosts.record(path, "127.0.0.1", 32999, KEY_B, comment="c1")  # same host on a new port
    assert known_hosts.lookup(path, "127.0.0.1", 32768) == []
    assert known_hosts.lookup(path, "127.0.0.1", 32999) == [KEY_B]
    text = path.read_text()
    assert text.startswith(f"# mine\nexample.org {KEY_B}\n[127.0.0.1]:40000 {KEY_B} other\n")


def test_forget_by_port_and_by_comment(tmp_path):
    path = tmp_path / "known_hosts"
    known_hosts.record(path, "127.0.0.1", 1001, KEY_A, comment="c1")
    known_hosts.record(path, "127.0.0.1", 1002, KEY_B, comment="c2")
    known_hosts.record(path, "127.0.0.1", 1003, KEY_B)
    known_hosts.forget(path, hosts=[("127.0.0.1", 1003)], comments=["c1"])
    assert path.read_text() == f"[127.0.0.1]:1002 {KEY_B} c2\n"
    known_hosts.forget(path, comments=["nothing"])
    assert path.read_text() == f"[127.0.0.1]:1002 {KEY_B} c2\n"
    known_hosts.forget(tmp_path / "absent", comments=["c2"])  # no file: nothing to do
    assert not (tmp_path / "absent").exists()


def test_parallel_records_lose_nothing(tmp_path):
    path = tmp_path / "known_hosts"
    threads = [
        threading.Thread(target=known_hosts.record, args=(path, "127.0.0.1", 30000 + i, KEY_A, f"c{i}"))
        for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(path.read_text().splitlines()) == 20
    assert not list(tmp_path.glob(".known_hosts.*"))  # no temp files left


def test_bad_key_line_is_refused(tmp_path):
    with pytest.raises(ValueError):
        known_hosts.record(tmp_path / "kh", "127.0.0.1", 2222, "ssh-ed25519")
