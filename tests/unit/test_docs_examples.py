"""The examples in docs/*.md are checked, so the docs cannot drift from the code.

* A ```yaml block whose first line is ``# stack.yml`` is a whole stack file: it
  is written to ``<tmp>/examples/doc/stack.yml`` (beside symlinks to the repo's
  cookbooks/ and apps/, so ``../../cookbooks`` resolves as it does for
  examples/demo) and must pass the same validation as ``runner validate``.
* A ```yaml block whose first line is ``# NAME.yml`` (another name) is a file
  that a later stack of the same page includes; it is written beside it.
* Every ```python block must be valid Python.

Nothing here touches a host.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from runner.cookbooks.validate import load_and_validate
from runner.plugin.registry import Registry

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_FILE_COMMENT = re.compile(r"^# ([\w./-]+\.yml)\b")


def blocks(page: Path, language: str) -> list[tuple[int, str]]:
    """(line number, text) of every fenced block of ``language`` in ``page``."""
    text = page.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(2)) for m in _BLOCK.finditer(text) if m.group(1) == language]


def stack_files(page: Path) -> list[tuple[int, str, str]]:
    """(line, file name, text) of every ```yaml block that names its file in its first line."""
    found = []
    for line, text in blocks(page, "yaml"):
        match = _FILE_COMMENT.match(text)
        if match:
            found.append((line, match.group(1), text))
    return found


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def test_docs_exist_and_have_stack_examples() -> None:
    assert (DOCS / "README.md").is_file()
    assert sum(1 for page in PAGES for _, name, _ in stack_files(page) if name == "stack.yml") >= 5


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_stack_examples_are_valid(page: Path, registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "cookbooks").symlink_to(REPO / "cookbooks")
    (tmp_path / "apps").symlink_to(REPO / "apps")
    directory = tmp_path / "examples" / "doc"
    directory.mkdir(parents=True)
    for line, name, text in stack_files(page):
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        if name != "stack.yml":
            continue
        try:
            load_and_validate(target, known_providers=set(registry.providers),
                              known_strategies=set(registry.strategies),
                              known_balancers=set(registry.load_balancers),
                              known_sources={n: t.declaration() for n, t in registry.app_sources.items()})
        except Exception as exc:
            pytest.fail(f"{page.name}:{line}: the stack example does not validate:\n{exc}", pytrace=False)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_examples_parse(page: Path) -> None:
    for line, text in blocks(page, "python"):
        try:
            ast.parse(text)
        except SyntaxError as exc:
            pytest.fail(f"{page.name}:{line + (exc.lineno or 1) - 1}: {exc.msg}", pytrace=False)
