"""``--shard I/N`` on Docker hosts: N converges, as on N machines, cover the fleet once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from runner.model.shard import Shard

COUNT_FILE = "/opt/shard-runs"


def _cookbook(root: Path) -> Path:
    book = root / "shardbook"
    (book / "recipes").mkdir(parents=True)
    (book / "metadata.yml").write_text("name: shardbook\nversion: 0.1.0\n")
    # no guard: every configure of a host adds one line, so the lines count its runs
    (book / "recipes" / "default.py").write_text(textwrap.dedent(f'''\
        execute("echo configured >> {COUNT_FILE}")
    '''))
    return root


def _converge(stack_file: Path, shard: str) -> tuple[int, dict, str]:
    proc = subprocess.run([sys.executable, "-m", "runner", "converge", "-f", str(stack_file), "--format", "json",
                           "--shard", shard], capture_output=True, text=True, timeout=600)
    try:
        return proc.returncode, json.loads(proc.stdout), proc.stderr
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON report (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from None


def test_two_shards_converge_every_host_exactly_once(docker_hosts, tmp_path) -> None:
    books = _cookbook(tmp_path)
    hosts = docker_hosts(4, config={"stack": {"cookbooks": [{"path": str(books)}]},
                                    "layers": {"app": {"recipes": {"configure": ["shardbook"]}}}})
    names = hosts.names
    covered: list[str] = []
    for index in range(2):
        code, report, err = _converge(hosts.stack.path, f"{index}/2")
        assert code == 0, json.dumps(report, indent=1) + err
        ran = [h["host"] for h in report["hosts"]]
        assert ran == Shard(index, 2).pick(names)
        assert report["shard"] == {"index": index, "count": 2, "selected": len(ran), "total": 4}
        assert all(h["ran_setup"] and h["failed"] == 0 for h in report["hosts"])
        covered += ran
    assert sorted(covered) == sorted(names)  # the union is the fleet, and no host ran twice
    for name in names:
        assert hosts.exec(name, "cat", COUNT_FILE).stdout == "configured\n", name
