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
import threading
from collections import OrderedDict
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
import jinja2.meta

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
        name = path.relative_to(root).as_posix()
        template = env.get_template(name)
        scope = {**context, **(variables or {})}
        key = _render_key(env, path, scope)
        if key is not None:
            with _renders_lock:
                text = _renders.get(key)
                if text is not None:
                    _renders.move_to_end(key)
                    return text
        text = template.render(scope)
        if key is not None:
            with _renders_lock:
                _renders[key] = text
                while len(_renders) > RENDER_CACHE_SIZE:
                    _renders.popitem(last=False)
        return text
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


#: renders kept (a run's templates, rendered with the same values on many hosts, render once)
RENDER_CACHE_SIZE = 1024
_renders: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_renders_lock = threading.Lock()
_names: dict[str, tuple[tuple[int, int, int], frozenset[str] | None]] = {}


def _render_key(env: jinja2.Environment, path: Path, scope: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """What a render of ``name`` depends on: the file's version and the values of the names it uses.

    None (render it): the template includes, imports or extends another (whose names are not
    counted here), or uses a name whose value is not plain data (a node, a view, any object:
    reads through those must happen, and be recorded, at each render), or one that is undefined.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    version = (st.st_ino, st.st_mtime_ns, st.st_size)
    names = _used_names(env, str(path), version)
    if names is None:
        return None
    values = []
    for used in sorted(names):
        if used in scope:
            key = _plain_key(scope[used])
            if key is None:
                return None
            values.append((used, key))
        elif used not in env.globals:
            return None  # undefined: the render reports it
    return (str(path), version, tuple(values))


def _used_names(env: jinja2.Environment, path: str, version: tuple[int, int, int]) -> frozenset[str] | None:
    """The names the template takes from outside (parsed once per version of its file); None: it
    includes, imports or extends another template."""
    with _renders_lock:
        hit = _names.get(path)
    if hit is not None and hit[0] == version:
        return hit[1]
    tree = env.parse(Path(path).read_text())
    referenced = list(jinja2.meta.find_referenced_templates(tree))
    found = None if referenced else frozenset(jinja2.meta.find_undeclared_variables(tree))
    with _renders_lock:
        _names[path] = (version, found)
    return found


def _plain_key(value: Any) -> Any:
    """Type and value of plain data (str, numbers, bool, None, lists, tuples and dicts of them); else None."""
    if value is None or type(value) in (str, bool, int, float, bytes):  # not a subclass: it may print otherwise
        return (type(value).__name__, value)
    if type(value) in (list, tuple):
        keys = [_plain_key(item) for item in value]
        return None if any(k is None for k in keys) else (type(value).__name__, tuple(keys))
    if type(value) is dict:
        items = [(_plain_key(k), _plain_key(v)) for k, v in value.items()]
        return None if any(k is None or v is None for k, v in items) else ("dict", tuple(items))
    return None


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
