"""A small YAML writer for generated stack files: block style, comments above keys, ``!encrypted`` placeholders.

PyYAML cannot write comments, and a stack file someone will edit by hand reads better with
them. Every scalar (and every short mapping or list of scalars, in flow style) is written by
PyYAML itself, so quoting is always right; this module only lays out the blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

#: mappings and lists of scalars shorter than this are written on one line
FLOW_WIDTH = 90


@dataclass(frozen=True)
class Commented:
    """A value with comment lines written above its key."""

    value: Any
    comment: str


@dataclass(frozen=True)
class Encrypted:
    """An ``!encrypted`` value written with the text given: a placeholder `runner validate` refuses."""

    text: str


def scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True, sort_keys=False).strip()
    return text[:-4].rstrip() if text.endswith("\n...") else text


def _flow(value: Any) -> str | None:
    """``value`` on one line, or None when it holds wrappers, nested blocks or is too long."""
    if isinstance(value, (Commented, Encrypted)):
        return None
    if isinstance(value, dict):
        if any(isinstance(v, (dict, list, Commented, Encrypted)) and v for v in value.values()):
            return None
    elif isinstance(value, list):
        if any(isinstance(v, (dict, list, Commented, Encrypted)) for v in value):
            return None
    text = scalar(value)
    return text if "\n" not in text and len(text) <= FLOW_WIDTH else None


def _comment(text: str, indent: int) -> list[str]:
    pad = " " * indent
    return [f"{pad}# {line}".rstrip() for line in text.splitlines()]


def _lines(value: Any, indent: int) -> list[str]:
    """The block lines of a mapping or list at ``indent``."""
    pad = " " * indent
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, Commented):
                out.extend(_comment(item.comment, indent))
                item = item.value
            head = f"{pad}{scalar(key)}:"
            if isinstance(item, Encrypted):
                out.append(f"{head} !encrypted {scalar(item.text)}")
            elif (flow := _flow(item)) is not None:
                out.append(f"{head} {flow}")
            else:
                out.append(head)
                out.extend(_lines(item, indent + 2))
        return out
    for item in value:  # a list
        if isinstance(item, Encrypted):
            out.append(f"{pad}- !encrypted {scalar(item.text)}")
        elif (flow := _flow(item)) is not None:
            out.append(f"{pad}- {flow}")
        else:
            inner = _lines(item, indent + 2)
            first = next(i for i, line in enumerate(inner) if not line.lstrip().startswith("#"))
            inner[first] = f"{pad}- {inner[first][indent + 2:]}"
            out.extend(inner)
    return out


def dump(document: dict[str, Any], header: str = "") -> str:
    """The YAML text of ``document`` (top-level sections separated by a blank line)."""
    out = _comment(header, 0) if header else []
    for key, value in document.items():
        if out:
            out.append("")
        out.extend(_lines({key: value}, 0))
    return "\n".join(out) + "\n"
