"""stack.yml: apps.<app>.deploy.load_balancer (with its default) and instances.<name>.ports."""

import textwrap
from pathlib import Path

import pytest

from runner.cookbooks.validate import load_and_validate
from runner.errors import UserErrors
from runner.model.loader import load_stack
from runner.model.stack import BalancerSettings

BASE = """\
stack: {{name: s, provider: docker}}
layers:
{layers}
instances:
  web1: {{layers: [app]}}
apps:
  hello:
    layers: [app]
    source: {{type: git, url: u}}
{deploy}"""


def stack_text(deploy: str = "", layers: tuple[str, ...] = ("lb", "app")) -> str:
    return BASE.format(layers="\n".join(f"  {name}: {{}}" for name in layers),
                       deploy=textwrap.indent(textwrap.dedent(deploy), "    "))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def balancer(text: str) -> BalancerSettings | None:
    Path("stack.yml").write_text(text)
    return load_stack("stack.yml").apps["hello"].deploy.load_balancer


def errors(text: str) -> list[str]:
    Path("stack.yml").write_text(text)
    with pytest.raises(UserErrors) as info:
        load_stack("stack.yml")
    return [str(e) for e in info.value.errors]


@pytest.mark.parametrize("deploy, layers, expected", [
    # default: haproxy on layer lb in front of the app's first layer, when there is an lb layer
    ("", ("lb", "app"), BalancerSettings("haproxy", "lb", "app")),
    ("deploy: {strategy: rolling}", ("lb", "app"), BalancerSettings("haproxy", "lb", "app")),
    ("", ("app",), None),
    ("deploy: {load_balancer: false}", ("lb", "app"), None),
    ("deploy: {load_balancer: true}", ("lb", "app"), BalancerSettings("haproxy", "lb", "app")),
    ("deploy: {load_balancer: {}}", ("lb", "app"), BalancerSettings("haproxy", "lb", "app")),
    ("deploy: {load_balancer: {layer: edge, backend: web, type: nginx, options: {socket: /s}}}", ("edge", "app"),
     BalancerSettings("nginx", "edge", "web", {"socket": "/s"})),
    ("deploy:\n  load_balancer:\n    layer: edge\n", ("edge", "app"), BalancerSettings("haproxy", "edge", "app")),
])
def test_load_balancer_settings(in_tmp, deploy, layers, expected) -> None:
    assert balancer(stack_text(deploy, layers)) == expected


def test_default_needs_the_lb_layer_outside_the_app(in_tmp) -> None:
    text = stack_text(layers=("lb", "app")).replace("layers: [app]\n    source", "layers: [app, lb]\n    source")
    assert balancer(text) is None


@pytest.mark.parametrize("deploy, layers, message", [
    ("deploy: {load_balancer: {layer: lbb}}", ("lb", "app"),
     "stack.yml:11:37: apps.hello.deploy.load_balancer.layer: unknown layer 'lbb' (did you mean 'lb'?)"),
    ("deploy: {load_balancer: {layer: app}}", ("lb", "app"),
     "stack.yml:11:37: apps.hello.deploy.load_balancer.layer: layer 'app' runs the app itself; "
     "the load balancer needs a layer of its own"),
    ("deploy: {load_balancer: {}}", ("app",),
     "stack.yml:10:14: apps.hello.deploy.load_balancer: no layer 'lb' to run the load balancer "
     "(name the balancer's layer with 'layer:', or write 'load_balancer: false')"),
    ("deploy: {load_balancer: {kind: haproxy}}", ("lb", "app"),
     "stack.yml:11:30: apps.hello.deploy.load_balancer: unknown key 'kind'"),
    ("deploy: {load_balancer: {typ: haproxy}}", ("lb", "app"),
     "stack.yml:11:30: apps.hello.deploy.load_balancer: unknown key 'typ' (did you mean 'type'?)"),
    ("deploy: {load_balancer: haproxy}", ("lb", "app"),
     "stack.yml:11:29: apps.hello.deploy.load_balancer: expected a mapping, got string 'haproxy'"),
    ("deploy: {load_balancer: {backend: 3}}", ("lb", "app"),
     "stack.yml:11:39: apps.hello.deploy.load_balancer.backend: expected a string, got integer 3"),
    ("deploy: {load_balancer: {options: [1]}}", ("lb", "app"),
     "stack.yml:11:39: apps.hello.deploy.load_balancer.options: expected a mapping, got a list"),
])
def test_load_balancer_errors(in_tmp, deploy, layers, message) -> None:
    assert message in errors(stack_text(deploy, layers))


def test_unknown_balancer_type_is_a_validation_error(in_tmp) -> None:
    Path("stack.yml").write_text(stack_text("deploy: {load_balancer: {type: haproxi}}"))
    with pytest.raises(UserErrors) as info:
        load_and_validate("stack.yml", known_balancers={"haproxy"})
    assert [str(e) for e in info.value.errors] == [
        "stack.yml:11:36: unknown load balancer type 'haproxi' (did you mean 'haproxy'?)"]
    assert load_and_validate("stack.yml").apps["hello"].deploy.load_balancer.type == "haproxi"  # not checked


PORTS = """\
stack: {{name: s, provider: docker}}
layers: {{lb: {{}}}}
instances:
  lb1: {{layers: [lb], ports: {ports}}}
"""


@pytest.mark.parametrize("ports, expected", [("[80]", (80,)), ("[80, 443]", (80, 443)), ("[]", ())])
def test_instance_ports(in_tmp, ports, expected) -> None:
    Path("stack.yml").write_text(PORTS.format(ports=ports))
    assert load_stack("stack.yml").instances["lb1"].ports == expected


def test_instance_without_ports() -> None:
    assert load_stack(Path(__file__).resolve().parents[2] / "examples/demo/stack.yml").instances["app1"].ports == ()


@pytest.mark.parametrize("ports, message", [
    ("80", "stack.yml:4:30: instances.lb1.ports: expected a list of port numbers, got integer 80"),
    ("[0]", "stack.yml:4:31: instances.lb1.ports[0]: must be at least 1, got 0"),
    ("[70000]", "stack.yml:4:31: instances.lb1.ports[0]: must be at most 65535, got 70000"),
    ("[http]", "stack.yml:4:31: instances.lb1.ports[0]: expected an integer, got string 'http'"),
    ("[80, 80]", "stack.yml:4:35: instances.lb1.ports[1]: port 80 is listed twice"),
])
def test_instance_port_errors(in_tmp, ports, message) -> None:
    assert message in errors(PORTS.format(ports=ports))
