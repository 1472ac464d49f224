"""Every ```python block of docs/python-api.md, run in order in one namespace against Docker hosts."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

from deploy_support import app_copy, app_stack

PAGE = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_every_example_of_the_python_api_page_runs(docker_hosts, tmp_path) -> None:
    examples = _BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    assert len(examples) >= 7
    hosts = docker_hosts(2, config=app_stack(app_copy(tmp_path)))
    namespace: dict = {"__name__": "docs_python_api"}
    here = os.getcwd()
    os.chdir(hosts.stack.path.parent)  # the examples open "stack.yml"
    try:
        for number, code in enumerate(examples, 1):
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                try:
                    exec(compile(code, f"{PAGE.name} example {number}", "exec"), namespace)
                except Exception as exc:
                    raise AssertionError(f"example {number} of {PAGE.name} failed: {exc!r}\n{code}") from exc
    finally:
        os.chdir(here)
