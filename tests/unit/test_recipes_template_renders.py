"""A template rendered with the same values again is rendered once per process (per version of its file)."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import pytest
from recipes_support import write

from runner.cookbooks import load_cookbook
from runner.recipes import Node, render


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the templates Jinja really renders, one item per render."""
    seen: list[str] = []
    real = jinja2.Template.render

    def counting(self: jinja2.Template, *args: object, **kwargs: object) -> str:
        seen.append(self.name or "")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Template, "render", counting)
    return seen


def book_with(tmp_path: Path, templates: dict[str, str]):
    root = tmp_path / "web"
    write(root / "recipes" / "default.py")
    for name, text in templates.items():
        write(root / "templates" / name, text)
    return load_cookbook(root)


def test_same_variables_render_once(tmp_path: Path, renders: list[str]) -> None:
    book = book_with(tmp_path, {"app.conf.j2": "service={{ service }}\nport={{ port }}\n{{ range(2) | list }}\n"})
    for host in range(50):  # 50 hosts: each its own context, which this template does not use
        context = {"node": Node({"host": host}), "instance": object()}
        assert render(book, "app.conf.j2", {"service": "a", "port": 80}, context) == "service=a\nport=80\n[0, 1]\n"
    assert render(book, "app.conf.j2", {"service": "b", "port": 80}, {}) == "service=b\nport=80\n[0, 1]\n"
    assert render(book, "app.conf.j2", {"service": "a", "port": True}, {}) == "service=a\nport=True\n[0, 1]\n"
    assert renders == ["app.conf.j2"] * 3


def test_a_changed_template_renders_again(tmp_path: Path, renders: list[str]) -> None:
    book = book_with(tmp_path, {"t.j2": "one {{ x }}\n"})
    assert render(book, "t.j2", {"x": 1}, {}) == "one 1\n"
    path = book.template("t.j2")
    path.write_text("two {{ x }}\n")
    os.utime(path, ns=(1, 1))  # even with an old mtime: the size and inode count too
    assert render(book, "t.j2", {"x": 1}, {}) == "two 1\n"
    assert render(book, "t.j2", {"x": 1}, {}) == "two 1\n"
    assert renders == ["t.j2", "t.j2"]


def test_templates_using_the_node_or_other_templates_render_each_time(tmp_path: Path, renders: list[str]) -> None:
    book = book_with(tmp_path, {"n.j2": "{{ node.port }}\n", "i.j2": "{% include 'part.j2' %}", "part.j2": "{{ x }}",
                                "obj.j2": "{{ thing }}\n"})
    assert [render(book, "n.j2", None, {"node": Node({"port": p})}) for p in (1, 2, 1)] == ["1\n", "2\n", "1\n"]
    assert [render(book, "i.j2", {"x": x}, {}) for x in (1, 1)] == ["1", "1"]

    class Thing:
        def __init__(self, text: str) -> None:
            self.text = text

        def __str__(self) -> str:
            return self.text

    assert [render(book, "obj.j2", {"thing": Thing(t)}, {}) for t in ("a", "b")] == ["a\n", "b\n"]
    assert renders.count("n.j2") == 3 and renders.count("i.j2") == 2 and renders.count("obj.j2") == 2
