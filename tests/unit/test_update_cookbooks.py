"""`runner update-cookbooks` against real git checkouts in a temp dir (no hosts)."""

import subprocess
import sys
from pathlib import Path


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


def runner(stack: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", "update-cookbooks", "-f", str(stack), *args],
                          capture_output=True, text=True, timeout=120)


def test_update_cookbooks_pulls_a_checkout_and_reports_plain_directories(tmp_path: Path) -> None:
    upstream = tmp_path / "upstream"
    (upstream / "web" / "recipes").mkdir(parents=True)
    (upstream / "web" / "recipes" / "default.py").write_text('file("/tmp/x", content="1")\n')
    git("init", "-q", "-b", "main", cwd=upstream)
    git("add", ".", cwd=upstream)
    git("commit", "-qm", "one", cwd=upstream)
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(upstream), str(checkout)], check=True)
    plain = tmp_path / "plain"
    (plain / "db" / "recipes").mkdir(parents=True)
    (plain / "db" / "recipes" / "default.py").write_text("")
    stack = tmp_path / "stack.yml"
    stack.write_text(f"stack:\n  name: s\n  cookbooks:\n    - path: {checkout}\n    - path: {plain}\n")

    first = runner(stack)
    assert first.returncode == 0, first.stderr
    assert "up to date" in first.stdout and "not git" in first.stdout
    assert "2 cookbooks loaded: db, web" in first.stdout

    (upstream / "api" / "recipes").mkdir(parents=True)
    (upstream / "api" / "recipes" / "default.py").write_text("")
    git("add", ".", cwd=upstream)
    git("commit", "-qm", "two", cwd=upstream)
    second = runner(stack)
    assert second.returncode == 0, second.stderr
    assert "updated" in second.stdout and "3 cookbooks loaded: api, db, web" in second.stdout

    (checkout / "web" / "recipes" / "default.py").write_text("# local work\n")
    git("commit", "-qam", "local", cwd=checkout)
    (upstream / "web" / "recipes" / "default.py").write_text("# upstream work\n")
    git("commit", "-qam", "diverged", cwd=upstream)
    third = runner(stack)
    assert third.returncode == 1 and "failed" in third.stdout  # never a merge of local work
    assert "Traceback" not in third.stderr
