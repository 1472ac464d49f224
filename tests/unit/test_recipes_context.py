"""The node and the views recipes and templates see."""

import dataclasses

import pytest
from recipes_support import make_context, make_stack, views

from runner.model.stack import DeploySettings
from runner.recipes import AppView, MissingAttribute, Node, RunContext, build_scope
from runner.recipes.views import app_view


@pytest.fixture
def node():
    return Node({"nodejs": {"port": 8080, "opts": {"a": 1}}, "list": [{"x": 1}, 2], "keys": "k"})


def test_node_reads_like_a_mapping_and_an_object(node):
    assert node["nodejs"]["port"] == 8080
    assert node.nodejs.port == 8080
    assert node.nodejs.opts.a == 1
    assert node.get("missing", "d") == "d"
    assert node.get("nodejs").get("port") == 8080
    assert "nodejs" in node and "missing" not in node
    assert list(node) == ["nodejs", "list", "keys"]
    assert len(node) == 3
    assert dict(node.nodejs.opts) == {"a": 1}
    assert node["keys"] == "k"  # a key named like a Mapping method needs []


def test_nested_mappings_are_nodes_and_lists_stay_lists(node):
    assert isinstance(node["nodejs"], Node)
    items = node["list"]
    assert isinstance(items, list) and isinstance(items[0], Node) and items[1] == 2
    assert items[0].x == 1
    items.append(3)  # a copy: the node is unchanged
    assert len(node["list"]) == 2


def test_missing_attribute_names_the_full_path(node):
    with pytest.raises(KeyError) as exc:
        _ = node["nodejs"]["host"]
    assert str(exc.value) == "node['nodejs']['host'] is not set"
    with pytest.raises(AttributeError, match=r"node\['nodejs'\]\['opts'\]\['b'\] is not set"):
        _ = node.nodejs.opts.b
    with pytest.raises(MissingAttribute, match=r"node\['list'\]\[0\]\['y'\] is not set"):
        _ = node["list"][0]["y"]
    assert getattr(node, "nope", None) is None


def test_node_is_read_only(node):
    with pytest.raises(TypeError):
        node["x"] = 1  # type: ignore[index]
    assert node.to_dict() == {"nodejs": {"port": 8080, "opts": {"a": 1}}, "list": [{"x": 1}, 2], "keys": "k"}


def test_app_view_hides_secure_values_in_its_repr(tmp_path):
    app = app_view(make_stack(tmp_path).apps["shop"])
    assert app.environment == {"GREETING": "hi", "DB_PASSWORD": "s3cr3t-pw", "PIN": "12"}
    assert app.secure_keys == frozenset({"DB_PASSWORD", "PIN"})
    assert "s3cr3t" not in repr(app) and "'GREETING': 'hi'" in repr(app)
    assert app.source == {"type": "git", "url": "https://example.com/shop.git", "revision": "main"}
    assert app.attributes.document_root == "public" and app.custom_json is app.attributes
    assert isinstance(app.deploy, DeploySettings) and isinstance(app, AppView)


def test_scope_views(tmp_path):
    ctx = make_context(tmp_path, instance="db1", event="configure")
    ctx.instances = [dataclasses.replace(v, is_self=True) for v in ctx.instances]  # the caller's flags are ignored
    scope = build_scope(ctx, Node({}))
    assert [v.name for v in scope["instances"] if v.is_self] == ["db1"]
    assert scope["instance"].name == "db1" and scope["instance"].address == "10.0.0.3"
    assert scope["layer"].name == "db"  # the instance's first layer
    assert list(scope["layers"]) == ["web", "db"]  # every layer of the stack
    assert [v.name for v in scope["layers"]["web"].instances] == ["app1", "app2", "db1"]
    assert scope["layers"]["web"].packages == ("curl",) and scope["layers"]["web"].custom_json.web.port == 81
    assert list(scope["apps"]) == ["shop"]
    assert scope["stack"].name == "demo" and scope["stack"].custom_json.env == "prod"
    assert scope["event"] == "configure" and scope["deployment"] is None
    with pytest.raises(KeyError, match=r"no app 'nope' in this stack \(apps: shop\)"):
        _ = scope["apps"]["nope"]


def test_missing_self_is_added_as_online(tmp_path):
    ctx = make_context(tmp_path, instances=[v for v in views(make_stack(tmp_path)) if v.name != "app1"])
    me = build_scope(ctx, Node({}))["instance"]
    assert (me.name, me.status, me.is_self) == ("app1", "online", True)


def test_databag_function(tmp_path):
    databag = build_scope(make_context(tmp_path), Node({}))["databag"]
    apps = databag("aws_opsworks_app")
    assert [a["shortname"] for a in apps] == ["shop"]
    apps[0]["name"] = "changed"  # a copy each time
    assert databag("aws_opsworks_app")[0]["name"] == "shop"
    with pytest.raises(KeyError, match="no data bag 'apps' .*aws_opsworks_app, aws_opsworks_instance"):
        databag("apps")


def test_run_context_rejects_unknown_events(tmp_path):
    stack = make_stack(tmp_path)
    with pytest.raises(ValueError, match="unknown event 'boot'"):
        RunContext(stack, stack.instances["app1"], [], "boot", None, {})  # type: ignore[arg-type]
