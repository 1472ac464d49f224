"""Read one importer source file (a CloudFormation template, saved ``aws opsworks describe-*`` output)
into a located :class:`~runner.model.yamlsource.Document`.

JSON is checked with :mod:`json` first, so a broken file reads as ``file:line:col: invalid JSON``; its
locations then come from the YAML parser (JSON is YAML, nearly). YAML templates may use
CloudFormation's short intrinsic tags (``!Ref X``, ``!GetAtt A.B``, ``!Sub ...``): they are rewritten
into the long form (``{"Ref": "X"}``, ``{"Fn::GetAtt": ["A", "B"]}``) on the composed node tree, so
every value keeps its line.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from runner.errors import Location, UserError
from runner.model.yamlsource import Document, parse_yaml

#: the short tags CloudFormation reads, and the long key each stands for
SHORT_TAGS: dict[str, str] = {
    f"!{name}": ("Ref" if name == "Ref" else "Condition" if name == "Condition" else f"Fn::{name}")
    for name in (
        "Ref", "GetAtt", "Sub", "Join", "If", "FindInMap", "Select", "Split", "Equals", "Not", "And", "Or",
        "Base64", "GetAZs", "ImportValue", "Condition", "Cidr", "Transform", "Length", "ToJsonString",
    )
}

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


def load_source(path: Path) -> Document:
    """The file's data with locations.

    :raises UserError: unreadable file, invalid JSON or YAML (with file:line), an empty file.
    """
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UserError(f"cannot read file: {reason}", Location(shown)) from None
    strict = path.suffix.lower() == ".json"
    if strict or text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if not strict:  # a YAML flow mapping, perhaps: the YAML parser says what is wrong
                return _yaml(text, shown)
            raise UserError(f"invalid JSON: {exc.msg}", Location(shown, exc.lineno, exc.colno)) from None
        try:
            document = parse_yaml(text, shown)
        except UserError:  # valid JSON the YAML parser refuses (tabs, odd escapes): no lines then
            return Document(shown, data)
        return document if document.data == data else Document(shown, data)
    return _yaml(text, shown)


def _yaml(text: str, shown: str) -> Document:
    document = parse_yaml(text, shown, _long_form)
    if document.data is None:
        raise UserError("the file is empty", Location(shown))
    return document


def _long_form(root: yaml.Node) -> yaml.Node:
    """``root`` with every short intrinsic tag rewritten as its one-key mapping, and plain scalar keys
    read as strings (CloudFormation reads ``9: on`` under TimeBasedAutoScaling as the key "9")."""
    done: dict[int, yaml.Node] = {}
    pending: list[yaml.Node] = [root]
    while pending:  # bounded: each node of the (finite) tree is visited once
        node = pending.pop()
        if id(node) in done:
            continue
        done[id(node)] = node
        if isinstance(node, yaml.MappingNode):
            for index, (key, value) in enumerate(node.value):
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    key.tag = _STR
                node.value[index] = (key, _retag(value))
                pending.append(node.value[index][1])
        elif isinstance(node, yaml.SequenceNode):
            node.value[:] = [_retag(item) for item in node.value]
            pending.extend(node.value)
    return _retag(root)


def _retag(node: yaml.Node) -> yaml.Node:
    """A short-tagged node as ``{long key: the node, untagged}``; any other node as it is."""
    key = SHORT_TAGS.get(node.tag)
    if key is None:
        return node
    if isinstance(node, yaml.ScalarNode):
        if key == "Fn::GetAtt":  # !GetAtt Resource.Attribute: split at the first dot
            head, _, tail = node.value.partition(".")
            parts = [yaml.ScalarNode(_STR, part, node.start_mark, node.end_mark) for part in (head, tail)]
            inner: yaml.Node = yaml.SequenceNode(_SEQ, parts, node.start_mark, node.end_mark)
        else:
            inner = yaml.ScalarNode(_STR, node.value, node.start_mark, node.end_mark, node.style)
    elif isinstance(node, yaml.SequenceNode):
        inner = yaml.SequenceNode(_SEQ, node.value, node.start_mark, node.end_mark, node.flow_style)
    else:
        inner = yaml.MappingNode(_MAP, node.value, node.start_mark, node.end_mark, node.flow_style)
    name = yaml.ScalarNode(_STR, key, node.start_mark, node.start_mark)
    return yaml.MappingNode(_MAP, [(name, inner)], node.start_mark, node.end_mark)
