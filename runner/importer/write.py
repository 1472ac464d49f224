"""An :class:`OpsStack` written as a runner stack.yml, and what could not be carried as MIGRATION.md.

:func:`to_stack_yaml` maps what runner has a place for and collects a MIGRATION item for
everything else, field by field; :func:`migration_md` lays those out with the Chef recipes the
stack runs, which have to be rewritten in Python. A value OpsWorks does not give back (a
protected environment value, a database password) is written ``!encrypted "FILL IN: ..."``: not
an armored age value, so ``runner validate`` refuses it at its line until it is replaced by what
``runner secrets encrypt`` prints.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from runner.errors import UserError
from runner.importer.model import MISSING_SECRET, OpsApp, OpsInstance, OpsLayer, OpsSource, OpsStack
from runner.importer.yamlout import Commented, Encrypted, dump
from runner.model.hostnames import RENAMED_THEMES, THEMES

#: where MIGRATION.md links point: runner's documentation, docs/ in its repository
DOCS = "docs"
EVENTS = ("Setup", "Configure", "Deploy", "Undeploy", "Shutdown")
FILL_IN = "FILL IN: "
#: the built-in layer an app type runs on in OpsWorks
APP_LAYER_TYPES = {"nodejs": "nodejs-app", "rails": "rails-app", "php": "php-app", "java": "java-app",
                   "static": "web"}
#: the main recipes of OpsWorks' built-in layers (Chef 11.10 opsworks-cookbooks), per event, when the
#: source does not list them (describe-layers gives DefaultRecipes; a template does not)
BUILTIN_RECIPES: dict[str, dict[str, list[str]]] = {
    "lb": {"Setup": ["haproxy"], "Configure": ["haproxy::configure"]},
    "nodejs-app": {"Setup": ["opsworks_nodejs"], "Deploy": ["deploy::nodejs"], "Undeploy": ["deploy::nodejs-undeploy"]},
    "rails-app": {"Setup": ["unicorn::rails"], "Deploy": ["deploy::rails"], "Undeploy": ["deploy::rails-undeploy"]},
    "php-app": {"Setup": ["mod_php5_apache2"], "Deploy": ["deploy::php"], "Undeploy": ["deploy::php-undeploy"]},
    "java-app": {"Setup": ["opsworks_java::setup"], "Deploy": ["deploy::java"],
                 "Undeploy": ["deploy::java-undeploy"]},
    "web": {"Setup": ["nginx"], "Deploy": ["deploy::web"], "Undeploy": ["deploy::web-undeploy"]},
    "db-master": {"Setup": ["mysql::server"], "Deploy": ["deploy::mysql"]},
    "memcached": {"Setup": ["memcached"]},
    "monitoring-master": {"Setup": ["opsworks_ganglia::server"]},
}
RDS_ENGINES = {"mysql": "mysql", "mariadb": "mariadb", "aurora": "aurora-mysql", "aurora-mysql": "aurora-mysql",
               "postgres": "postgres", "aurora-postgresql": "aurora-postgresql"}
_NAME_BAD = re.compile(r"[^A-Za-z0-9_-]+")


def runner_name(text: str) -> str:
    """A layer, instance, app or stack name runner accepts (letters, digits, ``_``, ``-``)."""
    name = _NAME_BAD.sub("-", text.strip()).strip("-_")
    return name or "unnamed"


def minutes(value: Any) -> str | None:
    return None if value is None else f"{int(value)}m" if float(value) == int(value) else f"{int(value * 60)}s"


def login_user(os_name: str | None) -> str:
    """The usual login user of an OpsWorks operating system's AMIs."""
    name = (os_name or "").lower()
    for prefix, user in (("ubuntu", "ubuntu"), ("centos", "centos"), ("debian", "admin")):
        if name.startswith(prefix):
            return user
    return "ec2-user"


def fill_in(what: str) -> Commented:
    """A secret to fill in: refused by ``runner validate`` until replaced."""
    return Commented(Encrypted(FILL_IN + what),
                     f"FILL IN {what}: OpsWorks does not give it back. Run `runner secrets encrypt`\n"
                     "and paste the block it prints in place of this value (see docs/secrets.md)")


class _Writer:
    def __init__(self, stack: OpsStack, app_layers: dict[str, str]):
        self.ops = stack
        self.app_layers = app_layers
        self.items: list[str] = []
        self.layer_names = {layer.layer_id: runner_name(layer.shortname) for layer in stack.layers}
        self.databases: dict[str, dict[str, Any]] = {}
        self.db_by_arn: dict[str, str] = {}

    def miss(self, where: Any, text: str) -> None:
        self.items.append(f"{text} ({where})" if where else text)

    # -- stack ------------------------------------------------------------------------------

    def stack_section(self) -> dict[str, Any]:
        ops = self.ops
        out: dict[str, Any] = {"name": runner_name(ops.name), "provider": "ec2"}
        options: dict[str, Any] = {}
        if ops.region:
            options["region"] = ops.region
        if ops.default_subnet_id:
            options["subnet_id"] = ops.default_subnet_id
        if ops.default_ssh_key_name:
            options["key_name"] = ops.default_ssh_key_name
        if ops.default_root_device_type:
            options["root_device_type"] = ops.default_root_device_type
        if ops.default_os and ops.default_os != "Custom":
            options["image_id"] = Commented(f"{FILL_IN}an AMI of {ops.default_os}",
                                            f"OpsWorks' DefaultOs was {ops.default_os!r}: give the AMI id "
                                            "(ami-...) of that system in your region")
            self.miss(ops.where, f"Stack DefaultOs {ops.default_os!r}: runner needs an AMI id; "
                                 "set stack.provider_options.image_id")
        out["provider_options"] = options
        theme = ops.hostname_theme
        if theme:
            theme = RENAMED_THEMES.get(theme, theme)
            if theme in THEMES:
                out["hostname_theme"] = theme
            else:
                self.miss(ops.where, f"Stack HostnameTheme {theme!r}: runner has no such theme; Layer_Dependent used")
        out["ssh"] = Commented({"user": login_user(ops.default_os), "host_key_policy": "accept-new"},
                               "the login user of your AMI (ec2-user, ubuntu, admin, ...): it must be able to sudo -n")
        cookbooks = self.cookbooks()
        note = "add the directory of your rewritten (Python) cookbooks as a `- path:` entry"
        if any(layer.type == "lb" for layer in ops.layers):
            note += "\nand the haproxy cookbook of runner's repository (cookbooks/haproxy, with cookbooks/base)"
        out["cookbooks"] = Commented(cookbooks, note)
        if ops.custom_json:
            out["custom_json"] = ops.custom_json
        out["secrets"] = Commented({"recipients": []},
                                   "your age public keys (runner secrets keygen), before `runner secrets encrypt`")
        self.stack_items()
        return out

    def cookbooks(self) -> list[Any]:
        ops, source = self.ops, self.ops.custom_cookbooks_source
        if source is None or not ops.use_custom_cookbooks and not source.url:
            return []
        entry: dict[str, Any] | None = None
        if source.type == "git":
            entry = {"git": source.url, "ref": source.revision or "HEAD"}
        elif source.type == "archive":
            entry = {"archive": source.url}
        elif source.type == "s3":
            entry = s3_cookbooks(source.url)
        else:
            self.miss(ops.where, f"CustomCookbooksSource of type {source.type!r} ({source.url}): runner fetches "
                                 "cookbooks from git, archives and S3; export it and add it to stack.cookbooks")
        self.source_secrets("CustomCookbooksSource", source, ops.where)
        if source.type != "git" and source.revision:
            self.miss(ops.where, f"CustomCookbooksSource Revision {source.revision!r}: only git sources have one")
        if not ops.use_custom_cookbooks:
            self.miss(ops.where, "UseCustomCookbooks was false: the custom cookbooks source was carried anyway")
        return [entry] if entry else []

    def source_secrets(self, what: str, source: OpsSource, where: Any) -> None:
        if source.username:
            self.miss(where, f"{what} Username {source.username!r}")
        if source.password:
            self.miss(where, f"{what} Password: give the fetching machine credentials of its own "
                             "(git credential helper, ~/.aws/credentials, or user:password@ in an archive URL)")
        if source.ssh_key:
            self.miss(where, f"{what} SshKey: load the key into your SSH agent (git uses it)")

    def stack_items(self) -> None:
        ops, w = self.ops, self.ops.where
        if ops.vpc_id:
            self.miss(w, f"Stack VpcId {ops.vpc_id!r}: implied by the subnet_id; not written")
        if ops.default_availability_zone:
            self.miss(w, f"Stack DefaultAvailabilityZone {ops.default_availability_zone!r}: choose it by subnet_id")
        if ops.use_opsworks_security_groups:
            self.miss(w, "UseOpsworksSecurityGroups: OpsWorks' own security groups are not created; "
                         "set provider_options.security_group_ids")
        if ops.chef_configuration and ops.chef_configuration.get("ManageBerkshelf"):
            self.miss(w, f"Berkshelf (BerkshelfVersion {ops.chef_configuration.get('BerkshelfVersion', '?')}): "
                         "declare `depends` in metadata.yml and vendor community cookbooks "
                         f"([cookbooks]({DOCS}/cookbooks-and-recipes.md#versions-and-constraints))")
        if ops.agent_version:
            self.miss(w, f"AgentVersion {ops.agent_version!r}: runner has no agent")
        if ops.configuration_manager:
            cm = ops.configuration_manager
            self.miss(w, f"ConfigurationManager {cm.get('Name', 'Chef')} {cm.get('Version', '')}".rstrip()
                      + ": recipes are Python (below)")
        for profile in ops.user_profiles:
            self.miss(w, f"UserProfile {profile.get('IamUserArn', profile)}: SSH access and sudo are `user` and "
                         "`group` resources in a recipe")
        for volume in ops.volumes:
            label = volume.get("Ec2VolumeId", volume.get("VolumeId", volume))
            self.miss(w, f"Volume {label}: EBS volumes are not managed")
        for elb in ops.elastic_load_balancers:
            self.miss(w, f"Elastic Load Balancer {elb.get('ElasticLoadBalancerName', elb)}: no ELB; the haproxy "
                         "balancer or a load balancer plugin")
        for note in ops.unmapped:
            self.miss(None, note)

    # -- layers -----------------------------------------------------------------------------

    def layers_section(self, backends: dict[str, str]) -> dict[str, Any]:
        return {self.layer_names[layer.layer_id]: self.layer(layer, backends) for layer in self.ops.layers}

    def layer(self, layer: OpsLayer, backends: dict[str, str]) -> dict[str, Any]:
        w, name = layer.where, layer.shortname
        out: dict[str, Any] = {}
        recipes: dict[str, list[str]] = {}
        custom_json = dict(layer.custom_json or {})
        if layer.type == "lb":
            recipes = {"setup": ["haproxy"], "configure": ["haproxy::configure"]}
            haproxy: dict[str, Any] = {"port": 80, "backend_port": 80}
            backend = backends.get(layer.layer_id)
            if backend:
                haproxy["backend_layer"] = backend
            else:
                self.miss(w, f"Layer {name} (HAProxy): no app layer found to balance; set "
                             "custom_json.haproxy.backend_layer")
            url = layer.attributes.get("HaproxyHealthCheckUrl")
            if url:
                haproxy["health_path"] = url
            custom_json["haproxy"] = {**haproxy, **custom_json.get("haproxy", {})}
            for key in sorted(layer.attributes):
                if key != "HaproxyHealthCheckUrl" and layer.attributes[key] not in (None, ""):
                    self.miss(w, f"Layer {name} attribute {key}: the haproxy cookbook has no such setting")
        else:
            for key in sorted(layer.attributes):
                if layer.attributes[key] not in (None, "", [], {}):
                    self.miss(w, f"Layer {name} attribute {key} = {layer.attributes[key]!r}: no equivalent")
        for event in EVENTS:
            extra = [r for r in layer.custom_recipes.get(event, []) if r not in recipes.get(event.lower(), [])]
            if extra:
                recipes[event.lower()] = recipes.get(event.lower(), []) + extra
        out["recipes"] = recipes
        if layer.packages:
            out["packages"] = list(dict.fromkeys(layer.packages))
        if custom_json:
            out["custom_json"] = custom_json
        if layer.enable_auto_healing:
            out["auto_healing"] = True
        if layer.shutdown_execution_timeout is not None:
            out["shutdown_timeout"] = int(layer.shutdown_execution_timeout)
        if layer.custom_security_group_ids:
            out["provider_options"] = {"security_group_ids": list(layer.custom_security_group_ids)}
        if layer.load_based:
            out["load_based"] = self.load_based(layer)
        self.layer_items(layer)
        return out

    def load_based(self, layer: OpsLayer) -> dict[str, Any]:
        settings = layer.load_based or {}
        out: dict[str, Any] = {"enable": bool(settings.get("Enable", True))}
        for ops_key, key in (("UpScaling", "up"), ("DownScaling", "down")):
            given = settings.get(ops_key) or {}
            part: dict[str, Any] = {}
            for ops_field, field_ in (("InstanceCount", "instances"), ("CpuThreshold", "cpu"),
                                      ("MemoryThreshold", "memory"), ("LoadThreshold", "load")):
                if given.get(ops_field) is not None:
                    part[field_] = given[ops_field]
            for ops_field, field_ in (("ThresholdsWaitTime", "thresholds_wait_time"),
                                      ("IgnoreMetricsTime", "ignore_metrics_time")):
                if given.get(ops_field) is not None:
                    part[field_] = minutes(given[ops_field])
            if given.get("Alarms"):
                self.miss(layer.where, f"Layer {layer.shortname} {ops_key} Alarms {given['Alarms']}: CloudWatch "
                                       "alarms are not read; runner watch scales on CPU, memory and load")
            if part:
                out[key] = part
        return out

    def layer_items(self, layer: OpsLayer) -> None:
        w, name = layer.where, layer.shortname
        if layer.auto_assign_elastic_ips:
            self.miss(w, f"Layer {name} AutoAssignElasticIps: Elastic IPs are not managed")
        if layer.auto_assign_public_ips:
            self.miss(w, f"Layer {name} AutoAssignPublicIps: that is the subnet's setting with the ec2 provider")
        for volume in layer.volume_configurations:
            self.miss(w, f"Layer {name} VolumeConfiguration {volume.get('MountPoint', volume)}: EBS volumes are "
                         "not managed; mount them in a recipe")
        if layer.elb:
            self.miss(w, f"Layer {name} Elastic Load Balancer {layer.elb!r}: no ELB; a load balancer plugin "
                         f"([deployments]({DOCS}/deployments.md))")
        if layer.shutdown_delay_until_elb_connections_drained:
            self.miss(w, f"Layer {name} DelayUntilElbConnectionsDrained: deploy.load_balancer drains HAProxy servers "
                         "during deploys only")
        if layer.type not in ("custom", "lb"):
            self.miss(w, f"Layer {name} is OpsWorks' built-in {layer.type!r} layer: its own recipes are not "
                         "carried (see the recipes below)")

    # -- instances ----------------------------------------------------------------------------

    def instances_section(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for instance in self.ops.instances:
            name = runner_name(instance.hostname or instance.instance_id)
            base, n = name, 2
            while name in out:  # bounded: one more than the names taken
                name, n = f"{base}-{n}", n + 1
            out[name] = self.instance(instance)
        return out

    def instance(self, instance: OpsInstance) -> dict[str, Any]:
        w = instance.where
        layers = [self.layer_names[i] for i in instance.layer_ids if i in self.layer_names]
        for missing in (i for i in instance.layer_ids if i not in self.layer_names):
            self.miss(w, f"Instance {instance.hostname or instance.instance_id}: layer {missing!r} is not in the stack")
        out: dict[str, Any] = {"layers": layers}
        if instance.hostname:
            out["hostname"] = instance.hostname.lower()
        options: dict[str, Any] = {}
        if instance.instance_type:
            options["instance_type"] = instance.instance_type
        if instance.ami_id:
            options["image_id"] = instance.ami_id
        if instance.root_device_type and instance.root_device_type != self.ops.default_root_device_type:
            options["root_device_type"] = instance.root_device_type
        if instance.ssh_key_name and instance.ssh_key_name != self.ops.default_ssh_key_name:
            options["key_name"] = instance.ssh_key_name
        if instance.subnet_id and instance.subnet_id != self.ops.default_subnet_id:
            options["subnet_id"] = instance.subnet_id
        if options:
            out["provider_options"] = options
        label = instance.hostname or instance.instance_id
        if instance.os and instance.os not in (self.ops.default_os, "Custom") and not instance.ami_id:
            self.miss(w, f"Instance {label} Os {instance.os!r}: give provider_options.image_id an AMI of it")
        if instance.availability_zone and not instance.subnet_id:
            self.miss(w, f"Instance {label} AvailabilityZone {instance.availability_zone!r}: choose it by subnet_id")
        if instance.architecture and instance.architecture != "x86_64":
            self.miss(w, f"Instance {label} Architecture {instance.architecture!r}: follows from the AMI and type")
        if instance.auto_scaling_type == "load":
            out["scaling"] = "load"
        elif instance.auto_scaling_type == "timer":
            schedule = {day: hours for day, hours in (instance.time_based_schedule or {}).items() if hours}
            if schedule:
                out["schedule"] = schedule
            else:
                out["schedule"] = Commented({"Monday-Friday": "8-18"}, "OpsWorks gave no TimeBasedAutoScaling "
                                            "schedule for this time-based instance: an example, change it")
                self.miss(w, f"Instance {label}: time-based without a schedule; an example schedule was written")
        return out

    # -- apps ---------------------------------------------------------------------------------

    def app_layer(self, app: OpsApp) -> str | None:
        if app.shortname in self.app_layers:
            return self.app_layers[app.shortname]
        wanted = APP_LAYER_TYPES.get(app.type)
        typed = [layer for layer in self.ops.layers if wanted and layer.type == wanted]
        if len(typed) == 1:
            return self.layer_names[typed[0].layer_id]
        custom = [layer for layer in self.ops.layers if layer.type == "custom"]
        if not typed and len(custom) == 1:
            return self.layer_names[custom[0].layer_id]
        return None

    def app_layer_map(self) -> dict[str, str]:
        known = set(self.layer_names.values())
        for app, layer in self.app_layers.items():
            if app not in {a.shortname for a in self.ops.apps}:
                raise UserError(f"--app-layer {app}={layer}: the stack has no app {app!r}",
                                hint=f"apps: {', '.join(a.shortname for a in self.ops.apps) or 'none'}")
            if layer not in known:
                raise UserError(f"--app-layer {app}={layer}: the stack has no layer {layer!r}",
                                hint=f"layers: {', '.join(sorted(known)) or 'none'}")
        found = {app.shortname: self.app_layer(app) for app in self.ops.apps}
        unknown = [f"{app.shortname} ({app.type})" for app in self.ops.apps if found[app.shortname] is None]
        if unknown:
            raise UserError(f"cannot tell which layer runs app(s) {', '.join(unknown)}: OpsWorks apps name no layer",
                            hint="give each with --app-layer APP=LAYER; layers: "
                                 + ", ".join(sorted(known)))
        return {app: layer for app, layer in found.items() if layer}

    def apps_section(self, layers: dict[str, str], balanced: dict[str, str]) -> dict[str, Any]:
        return {runner_name(app.shortname): self.app(app, layers[app.shortname], balanced) for app in self.ops.apps}

    def app(self, app: OpsApp, layer: str, balanced: dict[str, str]) -> dict[str, Any]:
        w, name = app.where, app.shortname
        out: dict[str, Any] = {"layers": [layer], "source": self.app_source(app)}
        environment: dict[str, Any] = {}
        for var in app.environment:
            key, value = str(var.get("Key", "")), var.get("Value")
            if var.get("Secure"):
                environment[key] = (fill_in(f"app {name} environment {key}") if value in (None, MISSING_SECRET)
                                    else {"value": str(value), "secure": True})
            else:
                environment[key] = "" if value is None else str(value)
        if environment:
            out["environment"] = environment
        sources = [self.data_source(app, ds) for ds in app.data_sources]
        if any(sources):
            out["data_sources"] = [s for s in sources if s]
        attributes = {k: v for k, v in app.attributes.items() if v not in (None, "")}
        custom: dict[str, Any] = {}
        if attributes:
            custom["opsworks_attributes"] = attributes
        if app.domains:
            custom["domains"] = list(app.domains)
            self.miss(w, f"App {name} Domains {', '.join(app.domains)}: kept in custom_json.domains; "
                         "your web server recipe has to use them")
        if app.enable_ssl or app.ssl_configuration:
            custom["enable_ssl"] = bool(app.enable_ssl)
            self.miss(w, f"App {name} SSL (EnableSsl {app.enable_ssl}): the certificate, private key and chain are "
                         "not carried; install them with a recipe (`file` resources with !encrypted content)")
        if attributes:
            self.miss(w, f"App {name} Attributes ({', '.join(sorted(attributes))}): kept in "
                         "custom_json.opsworks_attributes; runner has no DocumentRoot, RailsEnv, ... settings")
        if custom:
            out["custom_json"] = Commented(custom, "what OpsWorks had as app settings; your recipes read it "
                                           "as app.custom_json")
        for other, lb_layer in balanced.items():
            if other == layer and lb_layer != "lb":
                out["deploy"] = {"load_balancer": {"type": "haproxy", "layer": lb_layer}}
        if app.description:
            self.miss(w, f"App {name} Description: {app.description}")
        return out

    def app_source(self, app: OpsApp) -> dict[str, Any]:
        source = app.source
        if source is None or not source.url:
            self.miss(app.where, f"App {app.shortname} has no AppSource: a directory source was written; change it")
            return {"type": "directory", "path": f"../{runner_name(app.shortname)}"}
        self.source_secrets(f"App {app.shortname} AppSource", source, app.where)
        if source.type == "git":
            return {"type": "git", "url": source.url, "revision": source.revision or "HEAD"}
        if source.type == "s3":
            bucket, key, region = s3_parts(source.url)
            return {"type": "s3", "bucket": bucket, "key": key, **({"region": region} if region else {})}
        if source.type != "archive":
            self.miss(app.where, f"App {app.shortname} AppSource of type {source.type!r} ({source.url}): runner has "
                                 "git, archive, s3 and directory sources; an archive source was written")
        return {"type": "archive", "url": source.url}

    def data_source(self, app: OpsApp, ds: dict[str, Any]) -> str | None:
        if ds.get("Type") != "RdsDbInstance":
            self.miss(app.where, f"App {app.shortname} DataSource {ds.get('Type')}: only RDS instances are registered "
                                 "databases in runner; an OpsWorksMysqlInstance is a layer of your own")
            return None
        arn = str(ds.get("Arn", ""))
        name = self.db_by_arn.get(arn)
        if name is None:
            name = self.database(arn, {}, ds.get("DatabaseName"))
        elif ds.get("DatabaseName") and "database" not in self.databases[name]:
            self.databases[name]["database"] = ds["DatabaseName"]
        return name

    def database(self, arn: str, rds: dict[str, Any], database_name: str | None = None) -> str:
        name = runner_name(arn.rsplit(":", 1)[-1] or "db")
        engine = str(rds.get("Engine", ""))
        engine = RDS_ENGINES.get(engine) or ("oracle" if engine.startswith("oracle") else
                                             "sqlserver" if engine.startswith("sqlserver") else "")
        out: dict[str, Any] = {}
        if engine:
            out["engine"] = engine
        else:
            out["engine"] = Commented(f"{FILL_IN}the engine", "FILL IN the engine of RDS instance "
                                      f"{name}: mysql, mariadb, aurora-mysql, postgres, ...")
            self.miss(None, f"RDS instance {name}: its engine is not in the source; fill it in")
        out["address"] = rds.get("Address") or Commented(f"{FILL_IN}endpoint of {name}",
                                                         "FILL IN the endpoint address of the RDS instance")
        if not rds.get("Address"):
            self.miss(None, f"RDS instance {name}: its endpoint address is not in the source; fill it in")
        if rds.get("Port"):
            out["port"] = int(rds["Port"])
        if database_name:
            out["database"] = database_name
        out["username"] = rds.get("DbUser") or f"{FILL_IN}user"
        if not rds.get("DbUser"):
            self.miss(None, f"RDS instance {name}: its user is not in the source; fill it in")
        password = rds.get("DbPassword")
        out["password"] = (fill_in(f"the password of RDS user {out['username']}") if password in (None, MISSING_SECRET)
                           else {"value": str(password)})
        self.databases[name] = out
        self.db_by_arn[arn] = name
        return name

    # -- the whole ----------------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        app_layers = self.app_layer_map()
        for rds in self.ops.rds_db_instances:
            self.database(str(rds.get("RdsDbInstanceArn", "")), rds)
        lbs = [layer for layer in self.ops.layers if layer.type == "lb"]
        app_layer_names = list(dict.fromkeys(app_layers.values()))
        backends = {lb.layer_id: app_layer_names[0] for lb in lbs if app_layer_names}
        if lbs and len(app_layer_names) > 1:
            self.miss(None, f"HAProxy balances one layer here ({app_layer_names[0]}); apps also run on "
                            f"{', '.join(app_layer_names[1:])}")
        stack = self.stack_section()
        layers = self.layers_section(backends)
        balanced = {backend: self.layer_names[lb_id] for lb_id, backend in backends.items()}
        apps = self.apps_section(app_layers, balanced)
        if self.databases:
            stack["databases"] = self.databases
        if not stack["secrets"].value["recipients"] and not self.has_fill_in(stack, apps):
            del stack["secrets"]
        doc: dict[str, Any] = {"stack": stack, "layers": layers, "instances": self.instances_section()}
        if apps:
            doc["apps"] = apps
        return doc

    @staticmethod
    def has_fill_in(*parts: Any) -> bool:
        todo = list(parts)
        while todo:  # bounded: the (finite, acyclic) document
            item = todo.pop()
            if isinstance(item, Commented):
                todo.append(item.value)
            elif isinstance(item, Encrypted):
                return True
            elif isinstance(item, dict):
                todo.extend(item.values())
            elif isinstance(item, list):
                todo.extend(item)
        return False


def s3_parts(url: str) -> tuple[str, str, str | None]:
    """(bucket, key, region) of an S3 URL as OpsWorks took them: s3://B/K, https://s3.amazonaws.com/B/K,
    https://s3-R.amazonaws.com/B/K, https://s3.R.amazonaws.com/B/K, https://B.s3[.-R].amazonaws.com/K."""
    parsed = urlparse(url)
    host, path = parsed.netloc, parsed.path.lstrip("/")
    if parsed.scheme == "s3":
        bucket, _, key = f"{host}/{path}".partition("/")
        return bucket, key, None
    region = None
    match = re.match(r"^(?:(?P<bucket>.+)\.)?s3[.-](?:(?P<region>[a-z0-9-]+)\.)?amazonaws\.com$", host)
    if match is None and host.startswith("s3.amazonaws.com"):
        match = re.match(r"^s3\.amazonaws\.com$", host)
    if match is not None:
        region = match.groupdict().get("region")
        if region in (None, "dualstack"):
            region = None
        if match.groupdict().get("bucket"):
            return match.group("bucket"), path, region
    bucket, _, key = path.partition("/")
    return bucket, key, region


def s3_cookbooks(url: str) -> dict[str, Any]:
    bucket, key, region = s3_parts(url)
    return {"s3": f"s3://{bucket}/{key}", **({"region": region} if region else {})}


def to_stack_yaml(stack: OpsStack, app_layers: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """The stack.yml text of an OpsWorks stack, and the MIGRATION items: what it could not carry.

    :param app_layers: app shortname -> layer shortname, for apps whose layer cannot be inferred
        from the app and layer types (``--app-layer APP=LAYER``).
    :raises UserError: an app's layer is unknown (every such app named), or ``app_layers`` names an
        app or layer the stack does not have.
    """
    writer = _Writer(stack, dict(app_layers or {}))
    document = writer.document()
    header = (f"stack.yml written by `runner import opsworks` from OpsWorks stack {stack.name!r}"
              + (f" ({stack.where})" if stack.where else "")
              + ".\nSee MIGRATION.md beside it for what was not carried and the recipes to rewrite.")
    return dump(document, header), writer.items


def stack_recipes(stack: OpsStack) -> list[tuple[OpsLayer, str, list[str], bool]]:
    """(layer, event, recipes, built-in) of every Chef recipe the stack runs."""
    out = []
    for layer in stack.layers:
        builtin = layer.default_recipes or BUILTIN_RECIPES.get(layer.type, {})
        for event in EVENTS:
            if layer.type != "custom" and builtin.get(event):
                out.append((layer, event, list(builtin[event]), True))
            if layer.custom_recipes.get(event):
                out.append((layer, event, list(layer.custom_recipes[event]), False))
    return out


def migration_md(stack: OpsStack, items: list[str]) -> str:
    """MIGRATION.md: what was not carried over, then every Chef recipe to rewrite, per layer and event."""
    lines = [f"# Migrating OpsWorks stack {stack.name!r} to runner", "",
             "`runner import opsworks` wrote `stack.yml` beside this file. This page lists what it could",
             "not carry over and the Chef recipes the stack runs, which have to be rewritten in Python.",
             f"See [Migrating from OpsWorks]({DOCS}/migrating-from-opsworks.md).", "",
             "## Values to fill in", "",
             "Each `!encrypted \"FILL IN: ...\"` in stack.yml is a secret OpsWorks did not give back;",
             "`runner validate` refuses it at its line until you replace it with the block",
             f"`runner secrets encrypt` prints ([secrets]({DOCS}/secrets.md)). Each other `FILL IN:` value",
             "(an AMI id, a database endpoint) needs a real value too.", "",
             "## Not carried over", ""]
    lines += [f"- [ ] {item}" for item in items] or ["Nothing: every field had a place in stack.yml."]
    lines += ["", "## Chef recipes to rewrite in Python", "",
              f"runner runs Python recipes with Chef's resource names ([recipe DSL]({DOCS}/cookbooks-and-recipes.md"
              f"#the-recipe-dsl), [resources]({DOCS}/cookbooks-and-recipes.md#built-in-resource-types): `file`,",
              "`directory`, `template`, `link`, `execute`, `package`, `service`, `user`, `group`;",
              f"[templates]({DOCS}/cookbooks-and-recipes.md#templates) are Jinja2, attributes",
              f"[attributes/default.yml]({DOCS}/databags-and-attributes.md)). Write each recipe as",
              "`COOKBOOK/recipes/RECIPE.py` (`cookbook` alone is `recipes/default.py`), keeping the names",
              "stack.yml uses, and add the cookbooks' directory to `stack.cookbooks`.", ""]
    recipes = stack_recipes(stack)
    if not recipes:
        lines.append("The stack runs no recipes of its own.")
    current = None
    for layer, event, names, builtin in recipes:
        if layer.layer_id != current:
            current = layer.layer_id
            lines += ["", f"### Layer `{runner_name(layer.shortname)}` ({layer.type})", ""]
        origin = "built-in (OpsWorks' own cookbooks)" if builtin else "custom"
        if builtin and layer.type == "lb":
            origin = "built-in, carried: runner's cookbooks/haproxy does this"
        lines.append(f"- {event}, {origin}: " + ", ".join(f"`{name}`" for name in names))
    return "\n".join(lines) + "\n"
