"""The OpsWorks Chef 12 data bags: field names, stable ids, per-app files."""

import json
import uuid

import pytest
from recipes_support import make_context, make_stack, views

from runner.recipes import BAG_NAMES, DeploymentView, app_databags, build_databags, object_id


def test_every_bag_is_there_and_json_serialisable(tmp_path):
    bags = build_databags(make_context(tmp_path))
    assert tuple(bags) == BAG_NAMES
    assert json.loads(json.dumps(bags)) == bags


def test_app_item(tmp_path):
    (app,) = build_databags(make_context(tmp_path))["aws_opsworks_app"]
    assert app == {
        "app_id": object_id("demo", "app", "shop"),
        "app_source": {"type": "git", "url": "https://example.com/shop.git", "revision": "main",
                       "ssh_key": None, "user": None, "password": None},
        "attributes": {"document_root": "public"},
        "data_sources": [],
        "deploy": True,
        "domains": [],
        "enable_ssl": False,
        "ssl_configuration": {"certificate": None, "private_key": None, "chain": None},
        "environment": {"GREETING": "hi", "DB_PASSWORD": "s3cr3t-pw", "PIN": "12"},  # secure ones in full
        "name": "shop",
        "shortname": "shop",
        "type": "other",
    }
    uuid.UUID(app["app_id"])


def test_deploy_flag_follows_the_deployment(tmp_path):
    def flag(app):
        ctx = make_context(tmp_path, event="deploy", deployment=DeploymentView("deploy", app=app))
        return build_databags(ctx)["aws_opsworks_app"][0]["deploy"]

    assert (flag("shop"), flag("other"), flag(None)) == (True, False, True)


def test_instance_layer_stack_items(tmp_path):
    stack = make_stack(tmp_path)
    ctx = make_context(tmp_path, instance="app2", instances=views(stack, offline=("db1",)))
    bags = build_databags(ctx)
    instances = bags["aws_opsworks_instance"]
    assert [(i["hostname"], i["self"], i["status"], i["private_ip"]) for i in instances] == [
        ("app1", False, "online", "10.0.0.1"),
        ("app2", True, "online", "10.0.0.2"),
        ("db1", False, "stopped", None),
    ]
    db1 = instances[2]
    assert db1["instance_id"] == object_id("demo", "instance", "db1")
    assert db1["layer_ids"] == [object_id("demo", "layer", "db"), object_id("demo", "layer", "web")]
    assert db1["os"] == "Debian 12" and db1["public_ip"] is None
    assert bags["aws_opsworks_layer"][0] == {
        "layer_id": object_id("demo", "layer", "web"), "name": "web", "shortname": "web",
        "packages": ["curl"], "type": "custom",
    }
    assert bags["aws_opsworks_stack"] == [{
        "stack_id": object_id("demo", "stack"), "name": "demo", "hostname_theme": "Layer_Dependent",
        "region": "local", "use_custom_cookbooks": True,
    }]


def test_command_item(tmp_path):
    ctx = make_context(tmp_path, event="deploy", command_id="c-1", sent_at="2024-06-01T10:00:00+00:00",
                       deployment=DeploymentView("rollback", app="shop", args={"migrate": ["false"]}))
    assert build_databags(ctx)["aws_opsworks_command"] == [{
        "command_id": "c-1", "type": "rollback", "sent_at": "2024-06-01T10:00:00+00:00",
        "args": {"migrate": ["false"]}, "instance_id": object_id("demo", "instance", "app1"),
    }]
    plain = build_databags(make_context(tmp_path, event="configure"))["aws_opsworks_command"][0]
    assert (plain["type"], plain["args"]) == ("configure", {})


def test_ids_are_deterministic_and_per_stack(tmp_path):
    first = build_databags(make_context(tmp_path))
    again = build_databags(make_context(tmp_path))
    assert first == again
    other = build_databags(make_context(tmp_path, stack=make_stack(tmp_path, name="other")))
    assert other["aws_opsworks_app"][0]["app_id"] != first["aws_opsworks_app"][0]["app_id"]
    assert object_id("demo", "app", "x") != object_id("demo", "layer", "x")


def test_instance_order_does_not_depend_on_the_caller(tmp_path):
    stack = make_stack(tmp_path)
    forward = build_databags(make_context(tmp_path, instances=views(stack)))
    backward = build_databags(make_context(tmp_path, instances=list(reversed(views(stack)))))
    assert forward == backward


def test_app_databags_files(tmp_path):
    files = app_databags(make_context(tmp_path, command_id="one"), "shop")
    assert sorted(files) == ["aws_opsworks_app", "aws_opsworks_instance", "aws_opsworks_layer",
                             "aws_opsworks_rds_db_instance", "aws_opsworks_stack"]
    text = files["aws_opsworks_app"]
    assert text.endswith("}\n]\n") and text.startswith('[\n  {\n    "app_id"')  # sorted keys, indent 2
    assert [a["shortname"] for a in json.loads(text)] == ["shop"]
    # a new command changes nothing in the files
    assert app_databags(make_context(tmp_path, command_id="two", sent_at="later"), "shop") == files
    with pytest.raises(KeyError, match="no app 'nope'"):
        app_databags(make_context(tmp_path), "nope")


def test_app_databags_only_hold_this_app(tmp_path):
    stack = make_stack(tmp_path)
    extra = dict(stack.apps, blog=stack.apps["shop"].__class__("blog", ("db",), stack.apps["shop"].source))
    ctx = make_context(tmp_path, stack=make_stack(tmp_path, apps=extra))
    assert [a["name"] for a in json.loads(app_databags(ctx, "blog")["aws_opsworks_app"])] == ["blog"]
    assert [a["name"] for a in build_databags(ctx)["aws_opsworks_app"]] == ["shop", "blog"]
