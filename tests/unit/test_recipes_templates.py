"""Rendering cookbook templates, and template errors located in the template file."""

import os

import pytest
from recipes_support import write

from runner.cookbooks import load_cookbook
from runner.errors import UserError
from runner.recipes import Node, render


@pytest.fixture
def book(tmp_path):
    root = tmp_path / "web"
    write(root / "recipes" / "default.py")
    write(root / "templates" / "app.env.j2", "PORT={{ port }}\nHOST={{ node.web.host }}\nNAME={{ name }}\n")
    write(root / "templates" / "page.html.j2", "<b>{{ text }}</b>\n{% include 'part.j2' %}")
    write(root / "templates" / "part.j2", "part of {{ stack }}\n\n{{ missing_in_part }}\n")
    write(root / "templates" / "broken.j2", "ok\n{% for x in %}\n{% endfor %}\n")
    write(root / "templates" / "deep.j2", "a\n{{ node.web.nope }}\n")
    write(root / "templates" / "math.j2", "a\nb\n{{ 1 // zero }}\n")
    write(root / "templates" / "conf" / "site.j2", "{{ name }}")
    write(root / "templates" / "quoted.j2", "V={{ name | sh }}\n")
    return load_cookbook(root)


CONTEXT = {"node": Node({"web": {"host": "h"}}), "stack": "demo", "name": "from-context"}


def test_render_sees_context_and_variables_win(book):
    text = render(book, "app.env.j2", {"port": 80, "name": "from-variables"}, CONTEXT)
    assert text == "PORT=80\nHOST=h\nNAME=from-variables\n"  # trailing newline kept
    assert render(book, "conf/site.j2", None, CONTEXT) == "from-context"


def test_no_autoescape_and_include(book):
    text = render(book, "page.html.j2", {"text": "<i>&", "missing_in_part": "x"}, CONTEXT)
    assert text == "<b><i>&</b>\npart of demo\n\nx\n"


def test_undefined_variable_names_template_line_and_variable(book):
    with pytest.raises(UserError) as exc:
        render(book, "app.env.j2", {"name": "n"}, CONTEXT)
    assert str(exc.value) == f"{book.template('app.env.j2')}:1: undefined variable 'port'"


def test_undefined_in_an_included_template_points_into_it(book):
    with pytest.raises(UserError) as exc:
        render(book, "page.html.j2", {"text": "t"}, CONTEXT)
    assert str(exc.value) == f"{book.template('part.j2')}:3: undefined variable 'missing_in_part'"


def test_undefined_attribute(book):
    with pytest.raises(UserError) as exc:
        render(book, "deep.j2", {}, CONTEXT)
    assert str(exc.value.location) == f"{book.template('deep.j2')}:2"
    assert exc.value.message.startswith("undefined value: ") and "nope" in exc.value.message


def test_syntax_error_at_its_line(book):
    with pytest.raises(UserError) as exc:
        render(book, "broken.j2", {}, CONTEXT)
    assert str(exc.value.location) == f"{book.template('broken.j2')}:2"
    assert exc.value.message.startswith("template syntax error: ")


def test_exception_in_an_expression(book):
    with pytest.raises(UserError) as exc:
        render(book, "math.j2", {"zero": 0}, CONTEXT)
    assert str(exc.value) == f"{book.template('math.j2')}:3: ZeroDivisionError: integer division or modulo by zero"


def test_missing_template_lists_what_exists(book):
    with pytest.raises(UserError) as exc:
        render(book, "app.conf.j2", {}, CONTEXT)
    assert exc.value.location is None  # the compiler adds the recipe line
    assert exc.value.message == "template 'app.conf.j2' not found in cookbook 'web'"
    assert exc.value.hint == ("it has: app.env.j2, broken.j2, conf/site.j2, deep.j2, math.j2, page.html.j2, "
                              "part.j2, quoted.j2")


def test_no_escaping_the_templates_dir(book):
    with pytest.raises(UserError, match="not found"):
        render(book, "../recipes/default.py", {}, CONTEXT)


def test_changed_template_is_reloaded(book):
    assert render(book, "conf/site.j2", {"name": "a"}, {}) == "a"
    path = book.template("conf/site.j2")
    before = path.stat().st_mtime
    path.write_text("new {{ name }} text")
    os.utime(path, (before + 10, before + 10))  # a coarse clock must not hide the change
    assert render(book, "conf/site.j2", {"name": "a"}, {}) == "new a text"


def test_sh_filter_quotes_for_a_shell(book):
    hostile = "it's $(touch /tmp/pwned) `x`; \"dq\""
    text = render(book, "quoted.j2", {"name": hostile}, CONTEXT)
    assert text == "V='it'\"'\"'s $(touch /tmp/pwned) `x`; \"dq\"'\n"
    assert render(book, "quoted.j2", {"name": "plain"}, CONTEXT) == "V=plain\n"
