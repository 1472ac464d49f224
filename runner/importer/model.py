"""What the readers make of an OpsWorks stack, whatever they read it from: plain data, OpsWorks' own words.

Both readers (runner.importer.cloudformation for templates, runner.importer.describe
for saved ``aws opsworks describe-*`` output) produce one :class:`OpsStack`; the
writer (runner.importer.write) turns it into stack.yml and MIGRATION.md. Field
names follow the OpsWorks API (CreateStack, CreateLayer, CreateApp,
CreateInstance, SetLoadBasedAutoScaling, SetTimeBasedAutoScaling), in
snake_case; values are kept as OpsWorks gives them (``custom_json`` as parsed
JSON, recipes as ``cookbook::recipe``). A value OpsWorks never sends back
(``*****FILTERED*****``) or that the source leaves out is :data:`MISSING_SECRET`.

``where`` on each part is the file and line it was read from, for MIGRATION.md
and for errors (``Where("template.yml", 12)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: a protected value the source did not give (describe output filters it; a template may omit it)
MISSING_SECRET = "*****FILTERED*****"


@dataclass(frozen=True)
class Where:
    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class OpsSource:
    """A CustomCookbooksSource or an AppSource: Type (git | archive | s3 | svn), Url, Revision, Username,
    Password / SshKey (MISSING_SECRET when filtered)."""

    type: str
    url: str
    revision: str | None = None
    username: str | None = None
    password: str | None = None
    ssh_key: str | None = None


@dataclass
class OpsLayer:
    layer_id: str  # the API's LayerId, or the template's logical id
    type: str  # custom, lb (HAProxy), rails-app, nodejs-app, php-app, java-app, web, db-master, memcached, ...
    name: str
    shortname: str
    custom_recipes: dict[str, list[str]] = field(default_factory=dict)  # Setup/Configure/Deploy/Undeploy/Shutdown
    default_recipes: dict[str, list[str]] = field(default_factory=dict)  # built-in layers' own (describe only)
    packages: list[str] = field(default_factory=list)
    custom_json: dict[str, Any] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)  # e.g. HaproxyStatsPassword, EnableHaproxyStats
    enable_auto_healing: bool = False
    auto_assign_elastic_ips: bool = False
    auto_assign_public_ips: bool = False
    custom_security_group_ids: list[str] = field(default_factory=list)
    volume_configurations: list[dict[str, Any]] = field(default_factory=list)
    shutdown_execution_timeout: int | None = None  # LifecycleEventConfiguration.Shutdown.ExecutionTimeout
    shutdown_delay_until_elb_connections_drained: bool | None = None
    load_based: dict[str, Any] | None = None  # {"Enable": bool, "UpScaling": {...}, "DownScaling": {...}}
    elb: str | None = None  # an ElasticLoadBalancerAttachment's balancer name
    where: Where | None = None


@dataclass
class OpsInstance:
    instance_id: str
    hostname: str | None
    layer_ids: list[str]
    instance_type: str | None = None
    os: str | None = None
    ami_id: str | None = None
    root_device_type: str | None = None  # ebs | instance-store
    auto_scaling_type: str | None = None  # None (24/7) | load | timer
    ssh_key_name: str | None = None
    subnet_id: str | None = None
    availability_zone: str | None = None
    architecture: str | None = None
    time_based_schedule: dict[str, dict[str, str]] | None = None  # {"Monday": {"9": "on", ...}, ...}
    where: Where | None = None


@dataclass
class OpsApp:
    app_id: str
    name: str
    shortname: str
    type: str  # aws-flow-ruby | java | rails | php | nodejs | static | other
    source: OpsSource | None = None
    environment: list[dict[str, Any]] = field(default_factory=list)  # [{"Key", "Value", "Secure"}]
    data_sources: list[dict[str, Any]] = field(default_factory=list)  # [{"Type", "Arn", "DatabaseName"}]
    domains: list[str] = field(default_factory=list)
    enable_ssl: bool = False
    ssl_configuration: dict[str, Any] | None = None  # {"Certificate", "PrivateKey", "Chain"}
    attributes: dict[str, Any] = field(default_factory=dict)  # DocumentRoot, RailsEnv, AutoBundleOnDeploy, ...
    description: str | None = None
    where: Where | None = None


@dataclass
class OpsStack:
    name: str
    region: str | None = None
    vpc_id: str | None = None
    default_subnet_id: str | None = None
    default_os: str | None = None
    default_ssh_key_name: str | None = None
    default_root_device_type: str | None = None
    default_availability_zone: str | None = None
    hostname_theme: str | None = None
    custom_json: dict[str, Any] | None = None
    use_custom_cookbooks: bool = False
    custom_cookbooks_source: OpsSource | None = None
    configuration_manager: dict[str, str] | None = None  # {"Name": "Chef", "Version": "12"}
    chef_configuration: dict[str, Any] | None = None  # {"ManageBerkshelf": bool, "BerkshelfVersion": "3.2.0"}
    use_opsworks_security_groups: bool | None = None
    agent_version: str | None = None
    layers: list[OpsLayer] = field(default_factory=list)
    instances: list[OpsInstance] = field(default_factory=list)
    apps: list[OpsApp] = field(default_factory=list)
    rds_db_instances: list[dict[str, Any]] = field(default_factory=list)  # RdsDbInstanceArn, DbUser, ...
    elastic_load_balancers: list[dict[str, Any]] = field(default_factory=list)
    user_profiles: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)  # what a reader saw and could not carry into this model
    where: Where | None = None
