"""The sample cookbooks compile for every instance and event of examples/demo/stack.yml."""

from pathlib import Path

import pytest
from recipes_support import TYPES

from runner.cookbooks import CookbookSet
from runner.model.lifecycle import LIFECYCLE_EVENTS
from runner.model.loader import load_stack
from runner.recipes import DeploymentView, InstanceView, RunContext, compile_run_list

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo" / "stack.yml"
STACK = load_stack(DEMO)
COOKBOOKS = CookbookSet.from_sources(STACK.cookbooks)
VIEWS = [
    InstanceView(i.name, i.hostname, i.layers, f"172.17.0.{n}", "online")
    for n, i in enumerate(STACK.instances.values(), start=2)
]


def run_list(instance: str, event: str) -> list[str]:
    return [r for layer in STACK.instances[instance].layers for r in STACK.layers[layer].recipes.get(event, ())]


def compile_for(instance: str, event: str, deployment: DeploymentView | None = None):
    ctx = RunContext(STACK, STACK.instances[instance], VIEWS, event, COOKBOOKS, TYPES, deployment=deployment,
                     command_id="c1", sent_at="2024-06-01T00:00:00Z")
    return {r.key: r for r in compile_run_list(ctx, run_list(instance, event))}


@pytest.mark.parametrize("instance", list(STACK.instances))
@pytest.mark.parametrize("event", LIFECYCLE_EVENTS)
@pytest.mark.parametrize("app", ["hello", None])
def test_every_instance_and_event_compiles(instance, event, app):
    deployment = DeploymentView(event, app=app) if event in ("deploy", "undeploy") or app else None
    resources = compile_for(instance, event, deployment)
    assert all(r.source_location for r in resources.values())


def test_lb_setup_renders_the_backends():
    resources = compile_for("lb1", "setup")
    assert list(resources)[:9] == [
        "package[ca-certificates curl cron]", "group[ops]", "user[operator1]", "directory[/etc/runner]",
        "template[/etc/motd]", "link[/etc/runner/motd]", "file[/etc/sysctl.d/60-runner.conf]",
        "execute[sysctl -p /etc/sysctl.d/60-runner.conf]", "service[cron]",
    ]  # base: every built-in resource type
    assert resources["package[haproxy socat]"]
    sysctl = resources["file[/etc/sysctl.d/60-runner.conf]"].content
    text = sysctl.decode() if isinstance(sysctl, bytes) else sysctl
    assert text == "net.core.somaxconn = 1024\nvm.swappiness = 10\n"
    config = resources["template[/etc/haproxy/haproxy.cfg]"].content
    assert "    server app1 172.17.0.2:8080 check\n    server app2 172.17.0.3:8080 check\n" in config
    assert "stats socket /run/haproxy/admin.sock mode 660 level admin\n" in config
    assert "server-state-file /var/lib/haproxy/server-state\n" in config
    assert "load-server-state-from-file global\n" in config
    save = "execute[/usr/local/sbin/runner-haproxy-save-state /run/haproxy/admin.sock /etc/haproxy/haproxy.cfg " \
           "/var/lib/haproxy/server-state]"
    notified = [(n.action, n.target) for n in resources["template[/etc/haproxy/haproxy.cfg]"].notifies]
    assert notified == [("run", save), ("reload", "service[haproxy]")]  # the states are saved, then reloaded
    assert "172.17.0.4" not in config  # lb1 itself is not a backend
    assert "host:     lb1\n" in resources["template[/etc/motd]"].content


def test_app_deploy_writes_the_environment_and_the_unit():
    resources = compile_for("app1", "deploy", DeploymentView("deploy", app="hello"))
    env = resources["template[/srv/hello/shared/config/app.env]"]
    assert env.content == "PORT=8080\nDB_PASSWORD=s3cr3t\nGREETING=hi\n" and env.sensitive
    unit = resources["template[/etc/systemd/system/hello.service]"]
    assert "ExecStart=/usr/bin/python3 /srv/hello/current/server.py\n" in unit.content and not unit.sensitive
    assert resources["service[hello]"].only_if == "test -e /srv/hello/current/server.py"


def test_setup_before_any_deploy_configures_the_layer_apps():
    resources = compile_for("app2", "deploy", None)
    assert "service[hello]" in resources and "template[/etc/systemd/system/hello.service]" in resources
    assert compile_for("lb1", "deploy") == {}
