"""A ``file(source=...)`` too large to be read into memory is streamed from disk, byte-exact, to real hosts.

Correctness only: the memory it saves is measured by bench/memory.py, never asserted here.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from runner.resources.payload import READ_LIMIT

SIZE = 3 * READ_LIMIT + 12345  # a few MB: over the limit, so it travels as a FilePayload


def _converge(stack_file: Path) -> tuple[int, dict, str]:
    proc = subprocess.run([sys.executable, "-m", "runner", "converge", "--format", "json", "-f", str(stack_file)],
                          capture_output=True, text=True, timeout=600)
    try:
        return proc.returncode, json.loads(proc.stdout), proc.stderr
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON report (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from None


def test_a_large_source_file_arrives_byte_exact_on_every_host(docker_hosts, tmp_path: Path) -> None:
    book = tmp_path / "books" / "big"
    (book / "recipes").mkdir(parents=True)
    (book / "files").mkdir()
    (book / "metadata.yml").write_text("name: big\nversion: 0.1.0\n")
    data = os.urandom(SIZE)
    (book / "files" / "blob.bin").write_bytes(data)
    (book / "recipes" / "default.py").write_text(textwrap.dedent('''
        directory("/opt/big")
        file("/opt/big/blob.bin", source="blob.bin", mode="0600")
        file("/opt/big/after.txt", content="after the blob\\n")
    '''))
    config = {"stack": {"cookbooks": [{"path": str(book.parent)}]},
              "layers": {"app": {"recipes": {"configure": ["big"]}}}}
    hosts = docker_hosts(2, config=config)

    code, report, err = _converge(hosts.stack.path)
    assert code == 0, json.dumps(report, indent=1) + err
    want = hashlib.sha256(data).hexdigest()
    for name in hosts.names:
        assert hosts.exec(name, "sha256sum", "/opt/big/blob.bin").stdout.split()[0] == want
        assert hosts.exec(name, "stat", "-c", "%s %a", "/opt/big/blob.bin").stdout.split() == [str(SIZE), "600"]
        # the payload after it on stdin was not shifted by a byte
        assert hosts.exec(name, "cat", "/opt/big/after.txt").stdout == "after the blob\n"
    for host in report["hosts"]:
        blob = next(r for r in host["resources"] if r["resource"] == "file[/opt/big/blob.bin]")
        assert blob["status"] == "changed"

    # the probe compares checksums: the second run changes nothing and costs one command per host
    code, report, err = _converge(hosts.stack.path)
    assert code == 0, err
    for host in report["hosts"]:
        assert {r["status"] for r in host["resources"]} == {"ok"}, host
        assert host["remote_commands"] == 1

    # a changed byte on the host is found and the file sent again
    first = hosts.names[0]
    hosts.exec(first, "sh", "-c", "printf x | dd of=/opt/big/blob.bin bs=1 seek=1000 conv=notrunc 2>/dev/null")
    code, report, err = _converge(hosts.stack.path)
    assert code == 0, err
    assert hosts.exec(first, "sha256sum", "/opt/big/blob.bin").stdout.split()[0] == want
