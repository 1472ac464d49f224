"""Load balancers are registered through the runner_load_balancers hook and listed by `runner plugins`."""

import json
import subprocess
import sys

import pytest

from runner.balancers.api import BalancerSettings, LoadBalancer
from runner.balancers.haproxy import HaproxyBalancer
from runner.errors import UserError
from runner.plugin.registry import Registry


def test_haproxy_is_a_builtin_load_balancer() -> None:
    registry = Registry.load()
    assert registry.load_balancer("haproxy") is HaproxyBalancer
    assert issubclass(HaproxyBalancer, LoadBalancer)
    info = next(p for p in registry.plugins if p.origin.name == "haproxy")
    assert info.load_balancers == ["haproxy"] and info.origin.builtin


def test_unknown_load_balancer_suggests() -> None:
    with pytest.raises(UserError) as exc:
        Registry.load().load_balancer("haproxx")
    assert "unknown load balancer 'haproxx'" in str(exc.value) and "did you mean 'haproxy'?" in str(exc.value)


def test_disabled_haproxy_is_gone() -> None:
    assert "haproxy" not in Registry.load(disabled=["haproxy"]).load_balancers


def test_runner_plugins_lists_load_balancers() -> None:
    run = [sys.executable, "-m", "runner", "plugins"]
    text = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    assert "load balancers: haproxy" in text.stdout
    data = subprocess.run([*run, "--format", "json"], capture_output=True, text=True, timeout=60)
    plugins = {p["name"]: p for p in json.loads(data.stdout)}
    assert plugins["haproxy"]["load_balancers"] == ["haproxy"]
    assert all("load_balancers" in p for p in plugins.values())


@pytest.mark.parametrize("options, message", [
    ({"sock": "/x"}, "unknown haproxy balancer option 'sock'"),
    ({"socket": 3}, "option 'socket' must be a str, not int"),
    ({"poll_interval": True}, "option 'poll_interval' must be a int or float, not bool"),
    ({"poll_interval": 0}, "'poll_interval' must be more than 0"),
])
def test_haproxy_options_are_checked(options, message) -> None:
    with pytest.raises(UserError) as exc:
        HaproxyBalancer(BalancerSettings(backend="app", options=options), {})
    assert message in str(exc.value)


@pytest.mark.parametrize("backend", ["", "app;show info", "a b", "app/x"])
def test_haproxy_refuses_backend_names_it_cannot_take(backend) -> None:
    from runner.balancers.api import BalancerError

    with pytest.raises(BalancerError) as exc:
        HaproxyBalancer(BalancerSettings(backend=backend), {})
    assert "invalid backend name" in str(exc.value)
