"""Render a cookbook's Jinja2 templates; errors point into the template file.

Strict: an undefined name is an error, never an empty string, so a typo in
a template cannot silently write a broken configuration file. Output is
never HTML-escaped (these are configuration files), and a template's
trailing newline is kept.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2

from runner.cookbooks import Cookbook
from runner.errors import Location, UserError

_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")


def render(cookbook: Cookbook, source: str, variables: Mapping[str, Any] | None, context: Mapping[str, Any]) -> str:
    """Render ``templates/<source>`` of ``cookbook`` with ``context`` plus ``variables`` (variables win).

    :raises UserError: the template is missing (listing those that exist), or
        does not parse, or fails while rendering (at the template's file and line).
    """
    path = cookbook.template(source)
    if path is None or cookbook.templates_dir is None:
        raise UserError(f"template '{source}' not found in cookbook '{cookbook.name}'", hint=_available(cookbook))
    root = cookbook.templates_dir.resolve()
    env = _environment(str(root))
    try:
        template = env.get_template(path.relative_to(root).as_posix())
        return template.render({**context, **(variables or {})})
    except jinja2.TemplateSyntaxError as exc:
        where = Location.of(exc.filename or path, exc.lineno or 0)
        raise UserError(f"template syntax error: {exc.message}", where) from None
    except jinja2.TemplateNotFound as exc:  # an {% include %} of a missing file
        where = _template_frame(exc.__traceback__, root) or Location.of(path)
        raise UserError(f"template '{exc.name}' not found in cookbook '{cookbook.name}'", where,
                        _available(cookbook)) from None
    except jinja2.UndefinedError as exc:
        where = _template_frame(exc.__traceback__, root) or Location.of(path)
        match = _UNDEFINED_NAME.match(str(exc))
        message = f"undefined variable '{match.group(1)}'" if match else f"undefined value: {exc}"
        raise UserError(message, where) from None
    except Exception as exc:  # whatever a template's expressions raise is the template's error
        where = _template_frame(exc.__traceback__, root) or Location.of(path)
        raise UserError(f"{type(exc).__name__}: {exc}", where) from None


@lru_cache(maxsize=64)
def _environment(root: str) -> jinja2.Environment:
    """One environment per templates/ directory; it caches compiled templates (reloaded on change).

    Filters besides Jinja's own: ``sh`` quotes a value for a shell (and for
    systemd's EnvironmentFile=, which reads the same quoting):
    ``{{ name }}={{ value | sh }}``.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        auto_reload=True,
    )
    env.filters["sh"] = lambda value: shlex.quote(str(value))
    return env


def _template_frame(tb: TracebackType | None, root: Path) -> Location | None:
    """The innermost traceback frame that is in a template under ``root`` (Jinja maps its lines)."""
    found = None
    prefix = str(root) + os.sep
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(prefix):
            found = Location.of(filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _available(cookbook: Cookbook) -> str:
    root = cookbook.templates_dir
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root else []
    return f"it has: {', '.join(names)}" if names else "it has no templates"
