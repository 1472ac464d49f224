"""Which reader a ``runner import opsworks`` SOURCE goes to: a CloudFormation template or saved describe output.

The readers are imported when needed (runner.importer.cloudformation, runner.importer.describe).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from runner.errors import Location, UserError
from runner.importer.model import OpsStack

#: the top-level keys of saved describe-* output (describe-stacks ... describe-volumes), as the reader takes them
DESCRIBE_KEYS = ("Stacks", "Layers", "Apps", "Instances", "LoadBasedAutoScalingConfigurations",
                 "TimeBasedAutoScalingConfigurations", "RdsDbInstances", "ElasticLoadBalancers", "UserProfiles",
                 "Volumes")


class _AnyTags(yaml.SafeLoader):
    """Reads CloudFormation's short intrinsic tags (``!Ref``, ``!Sub``, ...) as plain values: enough to tell
    what kind of file it is."""


def _untagged(loader: yaml.Loader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_AnyTags.add_multi_constructor("!", _untagged)


def _top(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}", Location(str(path))) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as json_error:
        if text.lstrip().startswith(("{", "[")):
            raise UserError(f"not valid JSON: {json_error.msg}",
                            Location(str(path), json_error.lineno, json_error.colno)) from None
    try:
        return yaml.load(text, Loader=_AnyTags)  # noqa: S506 - a SafeLoader that ignores tags
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UserError(f"neither JSON nor YAML: {getattr(exc, 'problem', exc)}",
                        Location(str(path), mark.line + 1 if mark else 0, mark.column + 1 if mark else 0)) from None


def source_kind(path: Path) -> str:
    """``template`` or ``describe``. :raises UserError: neither."""
    top = _top(path)
    if isinstance(top, dict) and ("Resources" in top or "AWSTemplateFormatVersion" in top):
        return "template"
    if isinstance(top, dict) and any(key in top for key in DESCRIBE_KEYS):
        return "describe"
    raise UserError("neither a CloudFormation template (Resources, AWSTemplateFormatVersion) nor saved "
                    "`aws opsworks describe-*` output (Stacks, Layers, Apps, Instances, ...)",
                    Location(str(path), 1, 1))


def read_sources(paths: list[Path], parameters: dict[str, str] | None = None,
                 stack_name: str | None = None) -> OpsStack:
    """One OpsWorks stack from a template, or from describe outputs (several files: one per describe-*)."""
    kinds = {path: source_kind(path) for path in paths}
    templates = [p for p, kind in kinds.items() if kind == "template"]
    describes = [p for p, kind in kinds.items() if kind == "describe"]
    if templates and describes or len(templates) > 1:
        raise UserError("give one CloudFormation template, or the describe-* outputs of one stack, not both",
                        hint=f"templates: {', '.join(map(str, templates))}")
    if templates:
        from runner.importer.cloudformation import read_template

        return read_template(templates[0], parameters=parameters, stack_name=stack_name)
    if parameters:
        raise UserError("--parameter is for CloudFormation templates; these are describe outputs")
    from runner.importer.describe import read_describe

    return read_describe(describes, stack_name=stack_name)
