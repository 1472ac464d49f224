"""The OpsWorks Chef 12 data bags, with the field names OpsWorks used.

``aws_opsworks_app``, ``aws_opsworks_instance``, ``aws_opsworks_layer``,
``aws_opsworks_rds_db_instance``, ``aws_opsworks_stack`` and
``aws_opsworks_command``: lists of plain,
JSON-serialisable dicts. Ids are UUIDs derived from the stack's name and the
object's name, so the same stack gives the same bags on every run and
rewriting them on a host changes nothing when nothing changed.

Environment values and database passwords are given in full, secure ones
included (recipes need them); whoever prints or logs a bag must hide them
(see :func:`runner.recipes.secrets.secret_values`).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from runner.model.stack import App, Database, Stack
from runner.recipes.context import InstanceView, RunContext
from runner.recipes.views import instance_views, source_dict

BAG_NAMES: tuple[str, ...] = (
    "aws_opsworks_app",
    "aws_opsworks_instance",
    "aws_opsworks_layer",
    "aws_opsworks_rds_db_instance",
    "aws_opsworks_stack",
    "aws_opsworks_command",
)
#: what OpsWorks reported as the instance's operating system (our host image)
HOST_OS = "Debian 12"
#: the region and account in the ARNs of registered databases (no AWS account is involved)
REGION, ACCOUNT = "local", "000000000000"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://pypi.org/project/opsrunner/#databags")


def object_id(stack_name: str, kind: str, name: str = "") -> str:
    """A stable id for an object of a stack (``kind`` is "app", "instance", "layer", "stack")."""
    return str(uuid.uuid5(_NAMESPACE, f"{stack_name}\0{kind}\0{name}"))


def build_databags(ctx: RunContext) -> dict[str, list[dict[str, Any]]]:
    """Every bag, as OpsWorks would have given them to this run's instance."""
    stack = ctx.stack
    deploying = ctx.deployment.app if ctx.deployment else None
    order = {name: i for i, name in enumerate(stack.instances)}
    instances = sorted(instance_views(ctx), key=lambda view: (order.get(view.name, len(order)), view.name))
    return {
        "aws_opsworks_app": [_app(stack, app, deploying) for app in stack.apps.values()],
        "aws_opsworks_instance": [_instance(stack.name, view) for view in instances],
        "aws_opsworks_layer": [
            {
                "layer_id": object_id(stack.name, "layer", name),
                "name": name,
                "shortname": name,
                "packages": list(layer.packages),
                "type": "custom",
            }
            for name, layer in stack.layers.items()
        ],
        "aws_opsworks_rds_db_instance": [_rds(stack.name, database) for database in stack.databases.values()],
        "aws_opsworks_stack": [
            {
                "stack_id": object_id(stack.name, "stack"),
                "name": stack.name,
                "hostname_theme": stack.hostname_theme,
                "region": REGION,
                "use_custom_cookbooks": True,
            }
        ],
        "aws_opsworks_command": [
            {
                "command_id": ctx.command_id,
                "type": ctx.deployment.command if ctx.deployment else ctx.event,
                "sent_at": ctx.sent_at,
                "args": dict(ctx.deployment.args) if ctx.deployment else {},
                "instance_id": object_id(stack.name, "instance", ctx.instance.name),
            }
        ],
    }


def app_databags(ctx: RunContext, app_name: str) -> dict[str, str]:
    """The files of ``/srv/<app>/databags/``: bag name -> JSON text (stable key order).

    ``aws_opsworks_app`` holds only this app's item. ``aws_opsworks_command``
    is left out: its id and time change on every run, and a file that changes
    on every run would make every converge report a change.

    :raises KeyError: ``app_name`` is not an app of the stack.
    """
    bags = build_databags(ctx)
    if app_name not in ctx.stack.apps:
        raise KeyError(f"no app {app_name!r} in stack {ctx.stack.name!r}")
    bags["aws_opsworks_app"] = [item for item in bags["aws_opsworks_app"] if item["shortname"] == app_name]
    del bags["aws_opsworks_command"]
    return {name: to_json(items) for name, items in bags.items()}


def to_json(value: Any) -> str:
    """The one serialisation of a bag, so equal bags give equal bytes."""
    return json.dumps(value, sort_keys=True, indent=2, default=str) + "\n"


def database_arn(database: Database) -> str:
    """The ARN OpsWorks would have given the database: ``arn:aws:rds:local:000000000000:db:<name>``."""
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{database.name}"


def _rds(stack_name: str, database: Database) -> dict[str, Any]:
    """An ``aws_opsworks_rds_db_instance`` item: OpsWorks' field names, plus ``db_name`` (the database)."""
    return {
        "rds_db_instance_arn": database_arn(database),
        "db_instance_identifier": database.name,
        "db_name": database.database,
        "db_user": database.username,
        "db_password": database.password.value,
        "engine": database.engine,
        "address": database.address,
        "port": database.port,
        "region": REGION,
        "stack_id": object_id(stack_name, "stack"),
    }


def _data_source(database: Database) -> dict[str, Any]:
    """An item of an app's ``data_sources``: OpsWorks' three fields, plus where to connect and as whom
    (the password is in the database's ``aws_opsworks_rds_db_instance`` item)."""
    return {
        "type": "RdsDbInstance",
        "arn": database_arn(database),
        "database_name": database.database,
        "engine": database.engine,
        "address": database.address,
        "port": database.port,
        "db_user": database.username,
    }


def _app(stack: Stack, app: App, deploying: str | None) -> dict[str, Any]:
    stack_name = stack.name
    source = source_dict(app)
    url = source.get("url") or source.get("path")
    if app.source.type == "s3" and url is None:
        url = f"s3://{source.get('bucket')}/{source.get('key')}"
    return {
        "app_id": object_id(stack_name, "app", app.name),
        "app_source": {
            "type": app.source.type,
            "url": url,
            "revision": source.get("revision"),
            "ssh_key": None,
            "user": None,
            "password": None,
        },
        "attributes": {"document_root": None, **app.custom_json},
        "data_sources": [_data_source(stack.databases[name]) for name in app.data_sources
                         if name in stack.databases],
        # OpsWorks: true for the apps this command deploys (every app outside a deploy command)
        "deploy": deploying is None or deploying == app.name,
        "domains": [],
        "enable_ssl": False,
        "ssl_configuration": {"certificate": None, "private_key": None, "chain": None},
        "environment": {key: env.value for key, env in app.environment.items()},
        "name": app.name,
        "shortname": app.name,
        "type": "other",
    }


def _instance(stack_name: str, view: InstanceView) -> dict[str, Any]:
    return {
        "instance_id": object_id(stack_name, "instance", view.name),
        "hostname": view.hostname,
        "layer_ids": [object_id(stack_name, "layer", layer) for layer in view.layers],
        "os": HOST_OS,
        "private_ip": view.address,
        "private_dns": view.hostname,
        "public_ip": None,
        "public_dns": None,
        "status": view.status,
        "self": view.is_self,
    }
