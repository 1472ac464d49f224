"""Payloads streamed from disk: a large ``file(source=...)`` is never read whole, and arrives byte-exact."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from runner.engine.apply import build_apply_script
from runner.engine.outcome import CHANGED, FAILED, OK
from runner.engine.probe import new_token
from runner.resources.api import CompileContext
from runner.resources.builtin.file import File
from runner.resources.payload import CHUNK, READ_LIMIT, FilePayload, payload_chunks, payload_sha256
from runner.testing import converge_locally


def _big(path: Path, size: int) -> bytes:
    data = (bytes(range(256)) * (size // 256 + 1))[:size]
    path.write_bytes(data)
    return data


def _ctx(files: Path) -> CompileContext:
    def read_file(source: str) -> bytes:
        raise AssertionError(f"{source} was read whole")

    def file_payload(source: str) -> FilePayload:  # as runner.recipes.dsl's: the checksum taken when declared
        payload = FilePayload.of(files / source)
        payload.sha256()
        return payload

    return CompileContext(
        cookbook_name="cb", cookbook_path=files.parent, recipe_path=files.parent / "recipes" / "default.py",
        render_template=lambda source, variables: "", read_file=read_file,
        file_payload=file_payload,
    )


def test_a_file_payload_yields_the_file_in_chunks_each_time(tmp_path: Path) -> None:
    data = _big(tmp_path / "blob", 3 * CHUNK + 17)
    payload = FilePayload.of(tmp_path / "blob")
    assert len(payload) == len(data)
    for _ in range(2):  # every host reads it on its own
        chunks = list(payload_chunks(payload))
        assert b"".join(chunks) == data and max(map(len, chunks)) == CHUNK
    assert payload_sha256(payload) == hashlib.sha256(data).hexdigest()
    assert payload_sha256(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert b"".join(payload_chunks(b"x" * (CHUNK + 1))) == b"x" * (CHUNK + 1)


def test_a_file_that_shrank_or_vanished_keeps_its_size_on_the_wire(tmp_path: Path) -> None:
    _big(tmp_path / "blob", 2 * CHUNK)
    payload = FilePayload.of(tmp_path / "blob")
    (tmp_path / "blob").write_bytes(b"short")
    sent = b"".join(payload.chunks())
    assert len(sent) == 2 * CHUNK and sent.startswith(b"short") and sent[5:] == bytes(2 * CHUNK - 5)
    (tmp_path / "blob").unlink()
    assert b"".join(payload.chunks()) == bytes(2 * CHUNK)


def test_the_apply_script_reads_a_file_payload_by_its_size(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    _big(tmp_path / "files" / "big.bin", READ_LIMIT + 5)
    resource = File(str(tmp_path / "out"), source="big.bin")
    resource.prepare(_ctx(tmp_path / "files"))
    step = resource.apply(resource.parse("type=absent\n"), [])
    assert step.payloads == (resource.content,) and isinstance(resource.content, FilePayload)
    script = build_apply_script([resource], [((0,), step)], new_token())
    assert f'head -c {READ_LIMIT + 5} > "$T/p0"'.encode() in script.script
    assert script.payloads == [resource.content]


def test_a_large_source_file_converges_byte_exact_and_then_stays(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    data = _big(tmp_path / "files" / "big.bin", READ_LIMIT * 2 + 3)
    target = tmp_path / "out.bin"

    def declared() -> list[File]:  # with another path: probed together (probe_many)
        resource = File(str(target), source="big.bin", mode="0640")
        resource.prepare(_ctx(tmp_path / "files"))
        return [resource, File(str(tmp_path / "small.txt"), content="small\n")]

    outcome, commands = converge_locally(declared())
    assert not outcome.failed and outcome.resources[0].status == CHANGED and commands == 2
    assert target.read_bytes() == data and oct(target.stat().st_mode & 0o777) == "0o640"
    assert (tmp_path / "small.txt").read_text() == "small\n"
    assert [c.diff for c in outcome.resources[0].changes] == [None]  # too big to show
    outcome, commands = converge_locally(declared())
    assert [r.status for r in outcome.resources] == [OK, OK] and commands == 1


def test_a_source_file_changed_after_its_checksum_was_taken_fails_on_the_host(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    source = tmp_path / "files" / "big.bin"
    _big(source, READ_LIMIT + 1)
    target = tmp_path / "out.bin"
    target.write_bytes(b"old\n")
    resource = File(str(target), source="big.bin")
    resource.prepare(_ctx(tmp_path / "files"))
    stat = source.stat()
    source.write_bytes(b"\xff" * (READ_LIMIT + 1))  # same size, same times: the pinned checksum stands
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    outcome, _ = converge_locally([resource])
    assert outcome.resources[0].status == FAILED
    assert "source big.bin changed while it was sent" in outcome.resources[0].output
    assert target.read_bytes() == b"old\n"
