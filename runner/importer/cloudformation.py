"""An OpsWorks stack from a CloudFormation template (YAML with short tags, or JSON).

Reads the AWS::OpsWorks::Stack, ::Layer, ::App, ::Instance, ::ElasticLoadBalancerAttachment,
::UserProfile and ::Volume resources; everything else in the template is only a target of references.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.errors import UserError
from runner.importer.build import app_from, instance_from, layer_from, stack_from, where_of
from runner.importer.intrinsics import Resolver
from runner.importer.model import MISSING_SECRET, OpsStack
from runner.importer.sourcefile import load_source
from runner.model.yamlsource import Document

_OPSWORKS = "AWS::OpsWorks::"
_KINDS = ("Stack", "Layer", "App", "Instance", "ElasticLoadBalancerAttachment", "UserProfile", "Volume")


def read_template(path: Path, parameters: dict[str, str] | None = None, stack_name: str | None = None) -> OpsStack:
    """The stack the template at ``path`` describes.

    ``parameters`` override the template's parameter Defaults (``AWS::Region``, ``AWS::StackName`` and
    ``AWS::AccountId`` may be given too; the stack name defaults to the file's stem). ``stack_name``
    (a logical id or a Name) picks one of several AWS::OpsWorks::Stack resources.

    :raises UserError: unreadable file, not a template, no OpsWorks resources, a broken reference,
        a parameter without a value, several stacks and no ``stack_name``.
    """
    document = load_source(Path(path))
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        hint = "saved describe-* output is read as such" if isinstance(data, dict) and "Stacks" in data else None
        raise UserError("not a CloudFormation template: it has no Resources", document.value_at(), hint)
    resolver = _resolver(document, dict(parameters or {}), Path(path).stem)
    by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = {kind: [] for kind in _KINDS}
    for logical_id, resource in data["Resources"].items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise UserError(f"resource {logical_id} has no Type", document.key_at("Resources", logical_id))
        kind = resource["Type"].removeprefix(_OPSWORKS)
        if resource["Type"].startswith(_OPSWORKS) and kind in by_kind:
            if "Condition" in resource and resolver.condition(resource["Condition"],
                                                              ("Resources", logical_id, "Condition")) is False:
                continue
            by_kind[kind].append((logical_id, resource))
        elif resource["Type"].startswith(_OPSWORKS):
            resolver.notes.append(f"{document.key_at('Resources', logical_id)}: {logical_id}: "
                                  f"{resource['Type']} is not read")
    if not any(by_kind.values()):
        raise UserError("the template has no AWS::OpsWorks resources", document.key_at("Resources"))
    return _Reader(document, resolver, by_kind).stack(stack_name)


def _resolver(document: Document, given: dict[str, str], file_stem: str) -> Resolver:
    values: dict[str, Any] = {}
    unset: set[str] = set()
    declared = document.data.get("Parameters") or {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        value = given.pop(name, spec.get("Default"))
        if value is None:
            if str(spec.get("NoEcho", "")).lower() == "true":  # a secret left out: the writer asks for it
                values[name] = MISSING_SECRET
            else:
                unset.add(name)
            continue
        kind = str(spec.get("Type", "String"))
        if (kind == "CommaDelimitedList" or kind.startswith("List<")) and isinstance(value, str):
            values[name] = [item.strip() for item in value.split(",")]
        else:
            values[name] = value if isinstance(value, list) else str(value)
    pseudo = {"AWS::StackName": file_stem}
    for name in list(given):
        if name.startswith("AWS::"):
            pseudo[name] = given.pop(name)
    if given:
        raise UserError(f"the template has no parameter {', '.join(sorted(given))}",
                        document.key_at("Parameters") if declared else document.value_at(),
                        f"its parameters: {', '.join(declared) or 'none'}")
    resources = {lid: str(r.get("Type")) for lid, r in document.data["Resources"].items() if isinstance(r, dict)}
    return Resolver(document, values, frozenset(unset), resources, pseudo)


class _Reader:
    def __init__(self, document: Document, resolver: Resolver, by_kind: dict[str, list[tuple[str, dict]]]):
        self.document = document
        self.resolver = resolver
        self.by_kind = by_kind

    def props(self, logical_id: str) -> dict[str, Any]:
        path = ("Resources", logical_id, "Properties")
        value = self.resolver.resolve(self.document.data["Resources"][logical_id].get("Properties") or {}, path)
        if not isinstance(value, dict):
            raise UserError(f"{logical_id}: Properties must be a mapping", self.document.key_at(*path))
        return value

    def where(self, logical_id: str, *path: str):
        return where_of(self.document.key_at("Resources", logical_id, *path))

    def stack(self, wanted: str | None) -> OpsStack:
        stacks = [(lid, self.props(lid)) for lid, _ in self.by_kind["Stack"]]
        notes = self.resolver.notes
        if wanted is not None:
            chosen = [(lid, p) for lid, p in stacks if wanted in (lid, p.get("Name"))]
            if not chosen:
                names = ", ".join(f"{lid} ({p.get('Name')})" for lid, p in stacks) or "none"
                raise UserError(f"no AWS::OpsWorks::Stack {wanted} in the template (stacks: {names})",
                                self.document.key_at("Resources"))
        elif len(stacks) > 1:
            names = ", ".join(f"{lid} ({p.get('Name')})" for lid, p in stacks)
            raise UserError(f"the template has several OpsWorks stacks: {names}", self.document.key_at("Resources"),
                            "choose one with --stack")
        else:
            chosen = stacks
        if chosen:
            stack_id, props = chosen[0]
            stack = stack_from(props, self.where(stack_id), notes, stack_id)
        else:
            stack_id = None
            stack = stack_from({}, where_of(self.document.key_at("Resources")), notes,
                               wanted or self.resolver.pseudo["AWS::StackName"])
            notes.append(f"{stack.where}: the template has no AWS::OpsWorks::Stack; its settings are not known")
        stack.region = stack.region or self.resolver.pseudo.get("AWS::Region")
        self._parts(stack, stack_id, {lid for lid, _ in stacks})
        return stack

    def _mine(self, logical_id: str, props: dict[str, Any], stack_id: str | None, stacks: set[str]) -> bool:
        """Whether a resource belongs to the stack read: its StackId names it, or names no stack here."""
        owner = props.get("StackId")
        return owner == stack_id or owner not in stacks

    def _parts(self, stack: OpsStack, stack_id: str | None, stacks: set[str]) -> None:
        notes = self.resolver.notes
        for lid, _ in self.by_kind["Layer"]:
            props = self.props(lid)
            if self._mine(lid, props, stack_id, stacks):
                stack.layers.append(layer_from(lid, _without(props, "StackId"), self.where(lid), notes))
        layers = {layer.layer_id: layer for layer in stack.layers}
        for lid, _ in self.by_kind["Instance"]:
            props = self.props(lid)
            if self._mine(lid, props, stack_id, stacks):
                instance = instance_from(lid, _without(props, "StackId"), self.where(lid), notes)
                self._outside(lid, instance.layer_ids, layers)
                stack.instances.append(instance)
        for lid, _ in self.by_kind["App"]:
            props = self.props(lid)
            if self._mine(lid, props, stack_id, stacks):
                stack.apps.append(app_from(lid, _without(props, "StackId"), self.where(lid), notes))
        for lid, _ in self.by_kind["ElasticLoadBalancerAttachment"]:
            props = self.props(lid)
            layer = layers.get(props.get("LayerId"))
            if layer is not None:
                layer.elb = str(props.get("ElasticLoadBalancerName"))
                stack.elastic_load_balancers.append({**props, "LayerId": layer.layer_id})
        for lid, _ in self.by_kind["Volume"]:
            props = self.props(lid)
            if self._mine(lid, props, stack_id, stacks):
                stack.volumes.append({**_without(props, "StackId"), "LogicalId": lid})
        for lid, _ in self.by_kind["UserProfile"]:
            stack.user_profiles.append({**self.props(lid), "LogicalId": lid})

    def _outside(self, instance_id: str, layer_ids: list[str], layers: dict[str, Any]) -> None:
        """A note for each of an instance's LayerIds that is no layer of this stack (an id from elsewhere)."""
        for layer_id in layer_ids:
            if layer_id not in layers:
                where = self.document.key_at("Resources", instance_id, "Properties", "LayerIds")
                self.resolver.notes.append(f"{where}: instance {instance_id}: layer {layer_id} is not in the template")


def _without(props: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k not in keys}

