"""runner import opsworks, end to end: a CloudFormation template of an OpsWorks stack (an HAProxy layer in
front of a Node.js-like app from git) is imported, pointed at the repository's sample cookbooks and the
docker provider, then converged and deployed on Docker hosts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import yaml

from runner.testing import OWNER_FILE, STACK_PREFIX

ROOT = Path(__file__).resolve().parents[2]

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  AppRepo: {Type: String}
Resources:
  Stack:
    Type: AWS::OpsWorks::Stack
    Properties:
      Name: shop
      DefaultOs: Ubuntu 22.04 LTS
      HostnameTheme: Layer_Dependent
      ServiceRoleArn: !Sub "arn:aws:iam::${AWS::AccountId}:role/aws-opsworks-service-role"
      DefaultInstanceProfileArn: !GetAtt Profile.Arn
      UseCustomCookbooks: true
      CustomCookbooksSource: {Type: git, Url: "https://git.example.com/cookbooks.git", Revision: main}
      ConfigurationManager: {Name: Chef, Version: "12"}
  Lb:
    Type: AWS::OpsWorks::Layer
    Properties:
      StackId: !Ref Stack
      Type: lb
      Name: Load balancer
      Shortname: lb
      EnableAutoHealing: true
      AutoAssignElasticIps: false
      AutoAssignPublicIps: true
  App:
    Type: AWS::OpsWorks::Layer
    Properties:
      StackId: !Ref Stack
      Type: custom
      Name: App server
      Shortname: app
      EnableAutoHealing: true
      AutoAssignElasticIps: false
      AutoAssignPublicIps: true
      Packages: [curl]
      CustomRecipes:
        Setup: ["nodejs_demo::setup"]
        Deploy: ["nodejs_demo::deploy"]
        Undeploy: ["nodejs_demo::undeploy"]
        Shutdown: ["nodejs_demo::stop"]
  Hello:
    Type: AWS::OpsWorks::App
    Properties:
      StackId: !Ref Stack
      Name: hello
      Shortname: hello
      Type: nodejs
      AppSource: {Type: git, Url: !Ref AppRepo, Revision: main}
      Environment:
        - {Key: GREETING, Value: hi}
  App1:
    Type: AWS::OpsWorks::Instance
    Properties: {StackId: !Ref Stack, LayerIds: [!Ref App], InstanceType: t3.small}
  Lb1:
    Type: AWS::OpsWorks::Instance
    Properties: {StackId: !Ref Stack, LayerIds: [!Ref Lb], InstanceType: t3.micro}
"""


def runner(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *args], capture_output=True, text=True, timeout=900,
                          cwd=cwd)


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env, timeout=60)


def test_an_imported_stack_converges_and_deploys_on_docker_hosts(tmp_path, runner_docker_session) -> None:
    repo = tmp_path / "hello"
    shutil.copytree(ROOT / "apps" / "hello", repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "hello")
    template = tmp_path / "shop.yml"
    template.write_text(TEMPLATE)
    out = tmp_path / "imported"
    done = runner("import", "opsworks", str(template), "-o", str(out), "--parameter", f"AppRepo=file://{repo}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "MIGRATION.md").is_file() and "nodejs_demo::setup" in (out / "MIGRATION.md").read_text()

    # point it at the sample cookbooks and at Docker hosts, as a user trying it locally would
    document = yaml.safe_load((out / "stack.yml").read_text())
    name = f"{STACK_PREFIX}imp{uuid.uuid4().hex[:6]}"
    document["stack"].update(name=name, provider="docker", cookbooks=[{"path": str(ROOT / "cookbooks")}])
    document["stack"].pop("provider_options", None)
    document["stack"]["ssh"] = {"user": "root"}  # the Docker hosts' user, not the AMI's
    for layer in document["layers"].values():
        layer.pop("provider_options", None)
    for instance in document["instances"].values():
        instance.pop("provider_options", None)
    lb = next(n for n, i in document["instances"].items() if "lb" in i["layers"])
    document["instances"][lb]["ports"] = [80]
    (out / OWNER_FILE).write_text(f"{os.getpid()}\n")  # a dead test run's containers get swept
    stack_file = out / "stack.yml"
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    try:
        for step in (("validate",), ("instances", "start"), ("deploy", "hello")):
            proc = runner(*step, "-f", str(stack_file))
            assert proc.returncode == 0, f"runner {' '.join(step)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        status = json.loads(runner("status", "-f", str(stack_file), "--format", "json").stdout)
        rows = {i["instance"]: i for i in status["instances"]}
        app = next(n for n, i in document["instances"].items() if "app" in i["layers"])
        assert rows[app]["status"] == "online" and rows[app]["apps"]["hello"]["release"]
        answer = subprocess.run(["docker", "exec", f"runner-{name}-{app}", "curl", "-fsS", "localhost:8080/"],
                                capture_output=True, text=True, timeout=60)
        assert answer.returncode == 0 and answer.stdout, answer.stderr
        config = subprocess.run(["docker", "exec", f"runner-{name}-{lb}", "cat", "/etc/haproxy/haproxy.cfg"],
                                capture_output=True, text=True, timeout=60).stdout
        assert f"server {app} " in config, config
    finally:
        runner("instances", "destroy", "--no-lifecycle", "-f", str(stack_file))
        leftovers = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=runner.stack={name}"],
                                   capture_output=True, text=True, timeout=60).stdout.split()
        for container in leftovers:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True, timeout=60)
