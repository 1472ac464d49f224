"""Deploys that must stop and say so: the parts that need no host (see tests/integration/test_deploy_stops.py)."""

from __future__ import annotations

import io
import json
import shlex
import textwrap
from pathlib import Path

from runner.api.reports import DeployReport
from runner.balancers.api import BalancerSettings
from runner.balancers.haproxy import HaproxyBalancer
from runner.cli.main import main
from runner.cli.render import print_deploy
from runner.deploy.balancer import layers_without_instances, ssh_command
from runner.deploy.host import FAILED_HOST, SKIPPED, HostDeploy
from runner.deploy.rollout import BatchRecord, DrainedServer
from runner.model.loader import load_stack
from runner.ssh.target import SshTarget
from runner.strategies.api import Strategy
from runner.strategies.builtin import AllAtOnce, BlueGreen, Rolling

NO_LB_INSTANCES = """\
stack: {name: v, provider: docker}
layers: {app: {}, lb: {}}
instances: {a1: {layers: [app]}}
apps:
  hello:
    layers: [app]
    source: {type: git, url: u}
    deploy: {strategy: rolling}
"""


class Canary(Strategy):
    """A third-party strategy written before ``uses_balancer`` existed."""

    name = "canary"

    def deploy(self, rollout) -> None:
        rollout.step(rollout.hosts)


def test_which_strategies_open_the_balancer() -> None:
    assert not AllAtOnce.uses_balancer and not AllAtOnce.needs_balancer
    assert Rolling.uses_balancer and BlueGreen.uses_balancer and BlueGreen.needs_balancer
    assert Canary.uses_balancer, "a strategy that does not say gets the balancer, as before"


def test_haproxy_says_how_to_put_servers_back_by_hand() -> None:
    balancer = HaproxyBalancer(BalancerSettings(backend="app"), {})
    command = balancer.enable_command(["app1", "app2"])
    assert shlex.split(command) == ["echo", "set server app/app1 state ready; set server app/app2 state ready",
                                    "|", "socat", "stdio", "UNIX-CONNECT:/run/haproxy/admin.sock"]
    assert balancer.enable_command([]) is None


def test_the_ssh_command_reaches_the_host_as_the_runner_does() -> None:
    target = SshTarget("lb1", "10.0.0.5", port=2200, user="deploy", key_files=(Path("/keys/my key"),),
                       known_hosts=Path("/st/known_hosts"), sudo=True)
    args = shlex.split(ssh_command(target, "echo 'x; y' | socat stdio UNIX-CONNECT:/s"))
    assert args[:-1] == ["ssh", "-p", "2200", "-i", "/keys/my key", "-o", "UserKnownHostsFile=/st/known_hosts",
                         "deploy@10.0.0.5"]
    assert shlex.split(args[-1]) == ["sudo", "sh", "-c", "echo 'x; y' | socat stdio UNIX-CONNECT:/s"]
    plain = shlex.split(ssh_command(SshTarget("lb1", "h", host_key_policy="off"), "true"))
    assert plain == ["ssh", "-p", "22", "-o", "StrictHostKeyChecking=no", "root@h", "true"]


def drained_report() -> DeployReport:
    hosts = [HostDeploy("app1", status=FAILED_HOST, release="20240101000000", step="balancer:enable",
                        error="load balancer on lb1: socket gone"),
             HostDeploy("app2", status=SKIPPED, error="not deployed: batch 1 failed")]
    put_back = {"lb1": "ssh -p 2200 root@10.0.0.5 'echo ... | socat ...'"}
    return DeployReport("deploy", "s", "hello", hosts, 3.0, "rolling", "20240101000000",
                        "batch 1: the load balancer did not take app1 back; nothing more was drained",
                        [BatchRecord("batch 1", ["app1"], failed=["app1"])], drained=[DrainedServer("app1", put_back)])


def test_the_summary_names_every_server_left_out_with_its_command() -> None:
    out = io.StringIO()
    print_deploy(out, drained_report(), "text")
    text = out.getvalue()
    assert "stopped: batch 1: the load balancer did not take app1 back" in text
    assert "still out of the load balancer" in text
    assert "  app1 on lb1: ssh -p 2200 root@10.0.0.5 'echo ... | socat ...'\n" in text
    out = io.StringIO()
    print_deploy(out, drained_report(), "json")
    assert json.loads(out.getvalue())["drained"] == [
        {"server": "app1", "put_back": {"lb1": "ssh -p 2200 root@10.0.0.5 'echo ... | socat ...'"}}]


def test_a_balancer_without_a_command_is_still_named() -> None:
    report = drained_report()
    report.drained = [DrainedServer("app1")]
    out = io.StringIO()
    print_deploy(out, report, "text")
    assert "  app1: its balancer type offers no command" in out.getvalue()


def test_validate_warns_about_an_lb_layer_without_instances(tmp_path, capsys) -> None:
    path = tmp_path / "stack.yml"
    path.write_text(textwrap.dedent(NO_LB_INSTANCES))
    (warning,) = layers_without_instances(load_stack(path))
    assert "'hello'" in warning and "'lb'" in warning and "no instances" in warning
    assert main(["validate", "-f", str(path)]) == 0
    captured = capsys.readouterr()
    assert "ok" in captured.out
    assert f"runner: warning: {warning}" in captured.err

    path.write_text(textwrap.dedent(NO_LB_INSTANCES).replace("{a1: {layers: [app]}}",
                                                             "{a1: {layers: [app]}, lb1: {layers: [lb]}}"))
    assert layers_without_instances(load_stack(path)) == []
    assert main(["validate", "-f", str(path)]) == 0
    assert "warning" not in capsys.readouterr().err
