"""An OpsWorks stack from saved ``aws opsworks describe-*`` output (JSON).

Each file holds one or more of the top-level keys the CLI prints: Stacks, Layers, Apps, Instances
(describe-stacks, -layers, -apps, -instances), LoadBasedAutoScalingConfigurations and
TimeBasedAutoScalingConfigurations (describe-load-based-auto-scaling, describe-time-based-auto-scaling),
RdsDbInstances, ElasticLoadBalancers, UserProfiles, Volumes. CustomJson is a JSON string there, and
protected values read ``*****FILTERED*****`` (:data:`~runner.importer.model.MISSING_SECRET`), kept as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import Location, UserError
from runner.importer.build import app_from, instance_from, layer_from, schedule, stack_from, where_of
from runner.importer.model import OpsStack, Where
from runner.importer.sourcefile import load_source

KEYS = ("Stacks", "Layers", "Apps", "Instances", "LoadBasedAutoScalingConfigurations",
        "TimeBasedAutoScalingConfigurations", "RdsDbInstances", "ElasticLoadBalancers", "UserProfiles", "Volumes")


@dataclass(frozen=True)
class _Entry:
    data: dict[str, Any]
    where: Where


def read_describe(paths: list[Path], stack_name: str | None = None) -> OpsStack:
    """The stack the saved describe-* output in ``paths`` describes; ``stack_name`` (a Name or a StackId)
    picks one when several stacks are there (or names the stack when no describe-stacks output is).

    :raises UserError: unreadable JSON (file:line), a file with none of the keys above, no stack or
        several and no ``stack_name``.
    """
    entries: dict[str, list[_Entry]] = {key: [] for key in KEYS}
    notes: list[str] = []
    for path in paths:
        document = load_source(Path(path))
        data = document.data
        if not isinstance(data, dict) or not any(key in data for key in KEYS):
            hint = "a CloudFormation template is read as such" if isinstance(data, dict) and "Resources" in data \
                else None
            raise UserError(f"not saved aws opsworks describe-* output: none of {', '.join(KEYS[:4])}, ...",
                            document.value_at(), hint)
        for key, value in data.items():
            if key not in entries:
                if key != "NextToken":
                    notes.append(f"{document.key_at(key)}: {key} is not read")
                continue
            if not isinstance(value, list):
                raise UserError(f"{key} must be a list", document.value_at(key))
            for index, item in enumerate(value):
                if not isinstance(item, dict):
                    raise UserError(f"{key} entries must be objects", document.value_at(key, index))
                entries[key].append(_Entry(item, where_of(document.value_at(key, index))))
    stack, stack_id = _stack(entries["Stacks"], stack_name, paths, notes)
    _parts(stack, entries, stack_id, notes)
    return stack


def _stack(stacks: list[_Entry], wanted: str | None, paths: list[Path], notes: list[str]) -> tuple[OpsStack, Any]:
    """The stack chosen and its StackId (None: entries of any stack are taken)."""
    def label(entry: _Entry) -> str:
        return f"{entry.data.get('Name')} ({entry.data.get('StackId')})"

    chosen = [e for e in stacks if wanted is None or wanted in (e.data.get("Name"), e.data.get("StackId"))]
    first = Location(str(paths[0])) if paths else Location("describe output")
    if wanted is not None and stacks and not chosen:
        raise UserError(f"no stack {wanted} in the describe-stacks output (stacks: "
                        f"{', '.join(label(e) for e in stacks)})", Location(stacks[0].where.file))
    if len(chosen) > 1:
        raise UserError(f"several stacks: {', '.join(label(e) for e in chosen)}", Location(chosen[0].where.file),
                        "choose one with --stack")
    if not chosen:
        if wanted is None:
            raise UserError("no Stacks (describe-stacks output) and no stack name", first,
                            "save `aws opsworks describe-stacks` output too, or name the stack with --stack")
        stack = stack_from({}, Where(first.path), notes, wanted)
        notes.append(f"{first.path}: no describe-stacks output: the stack's own settings are not known")
        return stack, None
    entry = chosen[0]
    return stack_from(entry.data, entry.where, notes, str(entry.data.get("Name") or "stack")), entry.data.get("StackId")


def _ours(entry: _Entry, stack_id: str | None) -> bool:
    owner = entry.data.get("StackId")
    return stack_id is None or owner is None or owner == stack_id


def _parts(stack: OpsStack, entries: dict[str, list[_Entry]], stack_id: str | None, notes: list[str]) -> None:
    for entry in entries["Layers"]:
        if _ours(entry, stack_id):
            layer_id = str(entry.data.get("LayerId") or entry.data.get("Shortname"))
            stack.layers.append(layer_from(layer_id, entry.data, entry.where, notes))
    layers = {layer.layer_id: layer for layer in stack.layers}
    for entry in entries["LoadBasedAutoScalingConfigurations"]:
        layer = layers.get(entry.data.get("LayerId"))
        if layer is not None:
            layer.load_based = {k: v for k, v in entry.data.items() if k in ("Enable", "UpScaling", "DownScaling")}
        else:
            notes.append(f"{entry.where}: load-based scaling of layer {entry.data.get('LayerId')}, not in Layers")
    for entry in entries["Instances"]:
        if _ours(entry, stack_id):
            instance_id = str(entry.data.get("InstanceId") or entry.data.get("Hostname"))
            stack.instances.append(instance_from(instance_id, entry.data, entry.where, notes))
    instances = {instance.instance_id: instance for instance in stack.instances}
    for entry in entries["TimeBasedAutoScalingConfigurations"]:
        instance = instances.get(entry.data.get("InstanceId"))
        if instance is not None:
            instance.time_based_schedule = schedule(entry.data.get("AutoScalingSchedule"))
        else:
            notes.append(f"{entry.where}: time-based schedule of instance {entry.data.get('InstanceId')}, "
                         "not in Instances")
    for entry in entries["Apps"]:
        if _ours(entry, stack_id):
            app_id = str(entry.data.get("AppId") or entry.data.get("Shortname"))
            stack.apps.append(app_from(app_id, entry.data, entry.where, notes))
    for entry in entries["ElasticLoadBalancers"]:
        if _ours(entry, stack_id):
            stack.elastic_load_balancers.append(dict(entry.data))
            layer = layers.get(entry.data.get("LayerId"))
            if layer is not None:
                layer.elb = str(entry.data.get("ElasticLoadBalancerName"))
    stack.rds_db_instances.extend(dict(e.data) for e in entries["RdsDbInstances"] if _ours(e, stack_id))
    stack.user_profiles.extend(dict(e.data) for e in entries["UserProfiles"])
    stack.volumes.extend(dict(e.data) for e in entries["Volumes"] if _ours(e, stack_id))
