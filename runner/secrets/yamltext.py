"""``!encrypted`` values of a YAML file, found and replaced in its text.

A command that re-encrypts a value must leave the rest of the file as it was,
byte for byte: comments, key order, quoting, blank lines. So the file is never
dumped again. It is composed into nodes (composing needs no constructor, so
the ``!encrypted`` tag is no problem), each ``!encrypted`` scalar's marks give
the exact range of its text, and only that range is replaced.

A value keeps its style: a block scalar (``!encrypted |`` then the armored
lines) stays a block, with the same indentation; a flow scalar (``!encrypted
"-----BEGIN ...\\n...\\n"`` on one line, the only form that fits inside
``{...}``) stays a double-quoted one-liner.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import yaml

from runner.errors import Location, UserError, UserErrors
from runner.model.yamlsource import KeyPath
from runner.secrets.age import TAG

#: a block header worth keeping as written: the tag, ``|`` with an optional chomping indicator, a comment
_BLOCK_HEADER = re.compile(r"!encrypted[ \t]+\|[-+]?([ \t]+#.*)?")


@dataclass(frozen=True)
class Value:
    """One ``!encrypted`` scalar: its key path, its armored text, and where that text is in the file."""

    path: KeyPath
    armored: str
    start: int  # index of the tag's "!"
    end: int  # just past the value's last non-blank character
    location: Location  # of the tag
    block: bool  # a block scalar (``|``), else a one-line flow scalar
    indent: int  # a block's lines' indentation (columns)

    @property
    def dotted(self) -> str:
        return dotted(self.path)


@dataclass(frozen=True)
class Parsed:
    """A file's text, its node tree and its encrypted values (in the order of the text)."""

    display: str
    text: str
    root: yaml.Node | None
    values: tuple[Value, ...]
    by_node: dict[int, Value] = field(repr=False)  # id(node) -> its value (an alias shares the anchor's)

    @property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"


def dotted(path: KeyPath) -> str:
    return ".".join(str(part) for part in path)


def location_of(display: str, text: str, index: int) -> Location:
    line_start = text.rfind("\n", 0, index) + 1
    return Location(display, text.count("\n", 0, index) + 1, index - line_start + 1)


def parse(text: str, display: str) -> Parsed:
    """The encrypted values of a YAML text. :raises UserError: invalid YAML, or a tag on a non-string."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)  # the pure-Python parser: marks index characters
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = location_of(display, text, mark.index) if mark is not None else Location(display)
        problem = exc.problem or exc.context or "cannot parse"
        if exc.context and problem.startswith("but "):  # "expected a single document ..., but found ..."
            problem = f"{exc.context}, {problem}"
        raise UserError(f"invalid YAML: {problem}", where) from None
    values: list[Value] = []
    by_node: dict[int, Value] = {}
    errors: list[UserError] = []
    for path, node, in_flow in walk(root):
        if node.tag != TAG or id(node) in by_node:
            continue
        where = location_of(display, text, node.start_mark.index)
        if not isinstance(node, yaml.ScalarNode):
            errors.append(UserError(f"{dotted(path)}: {TAG} goes on a string (the armored age text)", where))
            continue
        value = _value(text, display, path, node, in_flow)
        values.append(value)
        by_node[id(node)] = value
    if errors:
        raise UserErrors(errors)
    values.sort(key=lambda v: v.start)
    return Parsed(display, text, root, tuple(values), by_node)


def walk(root: yaml.Node | None) -> Iterator[tuple[KeyPath, yaml.Node, bool]]:
    """Every node with its key path and whether it is inside a flow collection; an alias's subtree once."""
    seen: set[int] = set()

    def visit(node: yaml.Node, path: KeyPath, in_flow: bool) -> Iterator[tuple[KeyPath, yaml.Node, bool]]:
        yield path, node, in_flow
        if isinstance(node, yaml.ScalarNode) or id(node) in seen:
            return
        seen.add(id(node))
        inner = in_flow or bool(node.flow_style)
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                yield from visit(item, path + (i,), inner)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                yield from visit(value_node, path + (key,), inner)

    if root is not None:
        yield from visit(root, (), False)


def _value(text: str, display: str, path: KeyPath, node: yaml.ScalarNode, in_flow: bool) -> Value:
    # the node starts at its anchor when it has one: the range to rewrite starts at the tag
    start = text.find("!", node.start_mark.index, node.end_mark.index)
    start = node.start_mark.index if start < 0 else start
    written = text[start:node.end_mark.index]
    end = start + len(written.rstrip())  # a block's range ends with the line breaks after it
    block = node.style in ("|", ">") and not in_flow
    return Value(path, node.value, start, end, location_of(display, text, start), block,
                 _block_indent(written) if block else 0)


def _block_indent(written: str) -> int:
    """The indentation of a block scalar's first non-blank line (its header is the first line)."""
    for line in written.splitlines()[1:]:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return 2


def render_block(armored: str, indent: int, newline: str = "\n", header: str = f"{TAG} |") -> str:
    """``!encrypted |`` and the armored lines, each indented by ``indent``; no line break at the end."""
    lines = armored.strip().splitlines()
    return newline.join([header, *(" " * indent + line for line in lines)])


def render_flow(armored: str) -> str:
    """``!encrypted "..."`` on one line (a JSON string is a YAML double-quoted scalar)."""
    return f"{TAG} {json.dumps(armored.strip() + chr(10))}"


def rendered(parsed: Parsed, value: Value, armored: str) -> str:
    """The text that replaces ``value``'s for the new armored text, in the style it was written in."""
    if not value.block:
        return render_flow(armored)
    first_line = parsed.text[value.start:value.end].splitlines()[0].rstrip()
    header = first_line if _BLOCK_HEADER.fullmatch(first_line) else f"{TAG} |"
    return render_block(armored, value.indent, parsed.newline, header)


def replace(parsed: Parsed, changes: Sequence[tuple[Value, str]]) -> str:
    """The text with each value's range replaced by its new armored text; everything else as it was."""
    text = parsed.text
    for value, armored in sorted(changes, key=lambda change: change[0].start, reverse=True):
        text = text[:value.start] + rendered(parsed, value, armored) + text[value.end:]
    return text


def find(parsed: Parsed, wanted: str) -> Value:
    """The encrypted value at a dotted path (``apps.hello.environment.DB_PASSWORD``).

    A key may itself hold dots (the longest key that fits wins); a list item is its index. At an
    environment entry written ``{value: !encrypted ..., secure: true}`` the path may stop at the entry.

    :raises UserError: nothing is there, or what is there is not an encrypted value.
    """
    node, path = _node_at(parsed, wanted)
    if isinstance(node, yaml.MappingNode):
        inner = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}.get("value")
        if inner is not None and id(inner) in parsed.by_node:
            node = inner
    if id(node) not in parsed.by_node:
        where = location_of(parsed.display, parsed.text, node.start_mark.index)
        raise UserError(f"{dotted(path) or wanted}: not an {TAG} value", where,
                        hint=f"runner secrets encrypt prints one to paste there, as {TAG} |")
    return parsed.by_node[id(node)]


def _node_at(parsed: Parsed, wanted: str) -> tuple[yaml.Node, KeyPath]:
    node, path, rest = parsed.root, (), wanted
    for _ in range(wanted.count(".") + 1):  # one path part per round at least
        if not rest:
            break
        child, part, rest = _child(node, rest)
        if child is None:
            where = location_of(parsed.display, parsed.text, node.start_mark.index) if node else Location(
                parsed.display)
            under = f" under {dotted(path)}" if path else ""
            raise UserError(f"{wanted}: no key {part!r}{under}", where)
        node, path = child, path + (part,)
    if node is None:
        raise UserError(f"{wanted}: the file is empty", Location(parsed.display))
    return node, path


def _child(node: yaml.Node | None, rest: str) -> tuple[yaml.Node | None, str | int, str]:
    """(the child, its key, what is left of the path) for the first part of ``rest``; None when missing."""
    first = rest.split(".", 1)[0]
    if isinstance(node, yaml.SequenceNode):
        if first.isdigit() and int(first) < len(node.value):
            return node.value[int(first)], int(first), rest[len(first) + 1:]
        return None, first, ""
    if isinstance(node, yaml.MappingNode):
        keys = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        for key in sorted(keys, key=len, reverse=True):
            if rest == key or rest.startswith(key + "."):
                return keys[key], key, rest[len(key) + 1:]
    return None, first, ""
