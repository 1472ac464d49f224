"""The model's parts from OpsWorks properties, for both readers.

CloudFormation's AWS::OpsWorks::* properties and the describe-* output use the same names (the
CreateStack / CreateLayer / ... API's) with a few exceptions handled here (the layer's shutdown
configuration is ``ShutdownEventConfiguration`` in a template and ``Shutdown`` in describe output).
The values given are already plain data (a template's intrinsics resolved). Every key a builder
neither reads nor knows to be run-time state becomes a note in ``notes`` (OpsStack.unmapped).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from runner.errors import Location, UserError
from runner.importer.model import OpsApp, OpsInstance, OpsLayer, OpsSource, OpsStack, Where

EVENTS = ("Setup", "Configure", "Deploy", "Undeploy", "Shutdown")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: keys describe output carries about the running stack, with nothing to carry over
RUNTIME = frozenset({
    "Arn", "CreatedAt", "StackId", "LayerId", "InstanceId", "AppId", "Status", "Ec2InstanceId", "PrivateDns",
    "PrivateIp", "PublicDns", "PublicIp", "ElasticIp", "ReportedOs", "ReportedAgentVersion", "RootDeviceVolumeId",
    "SshHostDsaKeyFingerprint", "SshHostRsaKeyFingerprint", "InfrastructureClass", "LastServiceErrorId",
    "Platform", "RegisteredBy", "SecurityGroupIds", "DefaultSecurityGroupNames", "EcsContainerInstanceArn",
    "Tags",
})
_SENSITIVE = ("password", "secret", "sshkey", "privatekey")


def where_of(location: Location) -> Where:
    return Where(location.path, location.line or None)


def flag(value: Any, default: bool = False) -> bool:
    """A boolean as OpsWorks gives it: true/false, or the strings "true"/"false" (template parameters)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return default


def number(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def custom_json(value: Any, where: Where, what: str) -> dict[str, Any] | None:
    """A CustomJson: an object, or a JSON string (always so in describe output)."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise UserError(f"{what} CustomJson is not valid JSON: {exc.msg} (at its character {exc.pos + 1})",
                            Location(where.file, where.line or 0)) from None
    if not isinstance(value, dict):
        raise UserError(f"{what} CustomJson must be a JSON object", Location(where.file, where.line or 0))
    return value


def source_from(props: Any) -> OpsSource | None:
    """A CustomCookbooksSource or AppSource; None when it names no Url."""
    if not isinstance(props, dict) or not props.get("Url"):
        return None
    return OpsSource(type=str(props.get("Type") or "git"), url=str(props["Url"]), revision=text(props.get("Revision")),
                     username=text(props.get("Username")), password=text(props.get("Password")),
                     ssh_key=text(props.get("SshKey")))


def schedule(value: Any) -> dict[str, dict[str, str]] | None:
    """A TimeBasedAutoScaling / AutoScalingSchedule: day -> {hour: "on"}; YAML's on/off booleans read back."""
    if not isinstance(value, dict):
        return None
    days: dict[str, dict[str, str]] = {}
    for day, hours in value.items():
        if isinstance(hours, dict) and hours:
            days[str(day)] = {str(hour): ("on" if state is True else "off" if state is False else str(state))
                              for hour, state in hours.items()}
    return days or None


def leftover(props: dict[str, Any], read: Iterable[str], what: str, where: Where, notes: list[str]) -> None:
    """A note for each property neither read nor run-time state."""
    known = set(read) | RUNTIME
    for key, value in props.items():
        if key in known or value in (None, "", [], {}):
            continue
        shown = ""
        if isinstance(value, (str, int, float, bool)) and not any(s in key.lower() for s in _SENSITIVE):
            shown = f" ({json.dumps(value)[:60]})"
        notes.append(f"{where}: {what}: {key}{shown} is not carried over")


_STACK_READ = ("Name", "Region", "VpcId", "DefaultSubnetId", "DefaultOs", "DefaultSshKeyName",
               "DefaultRootDeviceType", "DefaultAvailabilityZone", "HostnameTheme", "CustomJson",
               "UseCustomCookbooks", "CustomCookbooksSource", "ConfigurationManager", "ChefConfiguration",
               "UseOpsworksSecurityGroups", "AgentVersion", "RdsDbInstances")


def stack_from(props: dict[str, Any], where: Where, notes: list[str], name: str) -> OpsStack:
    stack = OpsStack(
        name=str(props.get("Name") or name), region=text(props.get("Region")), vpc_id=text(props.get("VpcId")),
        default_subnet_id=text(props.get("DefaultSubnetId")), default_os=text(props.get("DefaultOs")),
        default_ssh_key_name=text(props.get("DefaultSshKeyName")),
        default_root_device_type=text(props.get("DefaultRootDeviceType")),
        default_availability_zone=text(props.get("DefaultAvailabilityZone")),
        hostname_theme=text(props.get("HostnameTheme")),
        use_custom_cookbooks=flag(props.get("UseCustomCookbooks")),
        custom_cookbooks_source=source_from(props.get("CustomCookbooksSource")),
        configuration_manager=_strings(props.get("ConfigurationManager")),
        chef_configuration=props.get("ChefConfiguration") or None,
        use_opsworks_security_groups=(flag(props["UseOpsworksSecurityGroups"])
                                      if "UseOpsworksSecurityGroups" in props else None),
        agent_version=text(props.get("AgentVersion")), where=where, unmapped=notes,
    )
    stack.custom_json = custom_json(props.get("CustomJson"), where, f"stack {stack.name}")
    stack.rds_db_instances = [dict(db) for db in props.get("RdsDbInstances") or [] if isinstance(db, dict)]
    leftover(props, _STACK_READ, f"stack {stack.name}", where, notes)
    return stack


def _strings(value: Any) -> dict[str, str] | None:
    return {str(k): str(v) for k, v in value.items() if v is not None} if isinstance(value, dict) else None


def _recipes(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        return {}
    return {event: [str(r) for r in value[event]] for event in EVENTS if value.get(event)}


_LAYER_READ = ("Type", "Name", "Shortname", "CustomRecipes", "DefaultRecipes", "Packages", "CustomJson",
               "Attributes", "EnableAutoHealing", "AutoAssignElasticIps", "AutoAssignPublicIps",
               "CustomSecurityGroupIds", "VolumeConfigurations", "LifecycleEventConfiguration",
               "LoadBasedAutoScaling")


def layer_from(layer_id: str, props: dict[str, Any], where: Where, notes: list[str]) -> OpsLayer:
    shortname = str(props.get("Shortname") or props.get("Name") or layer_id)
    lifecycle = props.get("LifecycleEventConfiguration") or {}
    shutdown = lifecycle.get("ShutdownEventConfiguration") or lifecycle.get("Shutdown") or {}
    layer = OpsLayer(
        layer_id=layer_id, type=str(props.get("Type") or "custom"), name=str(props.get("Name") or shortname),
        shortname=shortname, custom_recipes=_recipes(props.get("CustomRecipes")),
        default_recipes=_recipes(props.get("DefaultRecipes")),
        packages=[str(p) for p in props.get("Packages") or []],
        attributes={k: v for k, v in (props.get("Attributes") or {}).items() if v is not None},
        enable_auto_healing=flag(props.get("EnableAutoHealing")),
        auto_assign_elastic_ips=flag(props.get("AutoAssignElasticIps")),
        auto_assign_public_ips=flag(props.get("AutoAssignPublicIps")),
        custom_security_group_ids=[str(g) for g in props.get("CustomSecurityGroupIds") or []],
        volume_configurations=[dict(v) for v in props.get("VolumeConfigurations") or [] if isinstance(v, dict)],
        shutdown_execution_timeout=number(shutdown.get("ExecutionTimeout")),
        shutdown_delay_until_elb_connections_drained=(flag(shutdown["DelayUntilElbConnectionsDrained"])
                                                      if "DelayUntilElbConnectionsDrained" in shutdown else None),
        load_based=props.get("LoadBasedAutoScaling") or None, where=where,
    )
    layer.custom_json = custom_json(props.get("CustomJson"), where, f"layer {shortname}")
    leftover(props, _LAYER_READ, f"layer {shortname}", where, notes)
    return layer


_INSTANCE_READ = ("LayerIds", "Hostname", "InstanceType", "Os", "AmiId", "RootDeviceType", "AutoScalingType",
                  "SshKeyName", "SubnetId", "AvailabilityZone", "Architecture", "TimeBasedAutoScaling")


def instance_from(instance_id: str, props: dict[str, Any], where: Where, notes: list[str]) -> OpsInstance:
    hostname = text(props.get("Hostname"))
    instance = OpsInstance(
        instance_id=instance_id, hostname=hostname, layer_ids=[str(i) for i in props.get("LayerIds") or []],
        instance_type=text(props.get("InstanceType")), os=text(props.get("Os")), ami_id=text(props.get("AmiId")),
        root_device_type=text(props.get("RootDeviceType")), auto_scaling_type=text(props.get("AutoScalingType")),
        ssh_key_name=text(props.get("SshKeyName")), subnet_id=text(props.get("SubnetId")),
        availability_zone=text(props.get("AvailabilityZone")), architecture=text(props.get("Architecture")),
        time_based_schedule=schedule(props.get("TimeBasedAutoScaling")), where=where,
    )
    leftover(props, _INSTANCE_READ, f"instance {hostname or instance_id}", where, notes)
    return instance


_APP_READ = ("Name", "Shortname", "Type", "AppSource", "Environment", "DataSources", "Domains", "EnableSsl",
             "SslConfiguration", "Attributes", "Description")


def app_from(app_id: str, props: dict[str, Any], where: Where, notes: list[str]) -> OpsApp:
    shortname = str(props.get("Shortname") or props.get("Name") or app_id)
    environment = [{"Key": str(e.get("Key")), "Value": e.get("Value"), "Secure": flag(e.get("Secure"))}
                   for e in props.get("Environment") or [] if isinstance(e, dict)]
    app = OpsApp(
        app_id=app_id, name=str(props.get("Name") or shortname), shortname=shortname,
        type=str(props.get("Type") or "other"), source=source_from(props.get("AppSource")),
        environment=environment,
        data_sources=[dict(d) for d in props.get("DataSources") or [] if isinstance(d, dict)],
        domains=[str(d) for d in props.get("Domains") or []], enable_ssl=flag(props.get("EnableSsl")),
        ssl_configuration=props.get("SslConfiguration") or None,
        attributes={k: v for k, v in (props.get("Attributes") or {}).items() if v is not None},
        description=text(props.get("Description")), where=where,
    )
    leftover(props, _APP_READ, f"app {shortname}", where, notes)
    return app
