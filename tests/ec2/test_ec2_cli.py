"""The ec2 provider through the real CLI: bad input and AWS's refusals exit 2 with AWS's code, never a traceback."""

from __future__ import annotations

import json
import re

import pytest
from ec2_support import REGION, clear_aws_environment, stack_instances

from runner.cli.main import main


def run(capsys, stack, *argv: str) -> tuple[int, str, str]:
    code = main(["-f", str(stack.path), *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err, err
    return code, out, err


def test_start_list_stop_destroy_through_the_cli(capsys, ec2_stack, ec2):
    stack = ec2_stack(count=2)
    code, out, err = run(capsys, stack, "instances", "start", "--no-lifecycle", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["instances"]
    assert [r["status"] for r in rows] == ["online", "online"]
    code, out, err = run(capsys, stack, "instances", "list", "--format", "json")
    listed = json.loads(out)["instances"]
    assert code == 0 and [r["details"]["instance_id"] for r in listed] == [r["details"]["instance_id"] for r in rows]
    assert all(r["details"]["instance_type"] == "t3.micro" and r["details"]["private_address"] for r in listed)
    code, out, err = run(capsys, stack, "instances", "stop", "--no-lifecycle", "--instance", "app2")
    assert code == 0 and re.search(r"app2\b.*\bstopped\b", out), out
    code, out, err = run(capsys, stack, "instances", "list")
    assert re.search(r"app1\b.*\bonline\b", out) and re.search(r"app2\b.*\bstopped\b", out), out
    code, out, err = run(capsys, stack, "instances", "destroy", "--no-lifecycle")
    assert code == 0 and stack_instances(ec2, stack.name) == []


def test_instance_store_stop_is_refused_with_exit_2(capsys, ec2_stack, images):
    stack = ec2_stack(count=1, options={"image_id": images["instance-store"]})
    assert run(capsys, stack, "instances", "start", "--no-lifecycle")[0] == 0
    code, out, err = run(capsys, stack, "instances", "stop", "--no-lifecycle")
    assert code == 2 and "EC2 cannot stop instance-store-backed instances" in err
    assert "runner instances destroy" in err


@pytest.mark.parametrize("options, code_word", [
    ({"image_id": "ami-0000000000deadbeef"}, "InvalidAMIID.NotFound"),
    ({"subnet_id": "subnet-0000000000deadbeef"}, "InvalidSubnetID.NotFound"),
])
def test_aws_refusals_exit_2_with_aws_error_code(capsys, ec2_stack, ec2, options, code_word):
    stack = ec2_stack(count=2, options=options)
    code, out, err = run(capsys, stack, "instances", "start", "--no-lifecycle")
    assert code == 2, err
    assert code_word in err and "EC2 refused to create app1 (RunInstances)" in err
    assert re.search(r"stack\.yml:\d+:\d+: ", err), err  # where the option is set
    assert stack_instances(ec2, stack.name) == []


def test_no_credentials_exit_2(capsys, ec2_stack, monkeypatch):
    stack = ec2_stack(count=1)
    clear_aws_environment(monkeypatch)
    code, out, err = run(capsys, stack, "instances", "list")
    assert code == 2 and "no AWS credentials" in err and "AWS_ACCESS_KEY_ID" in err


def test_unknown_region_in_stack_yml_is_located_at_validation(capsys, ec2_stack):
    stack = ec2_stack(count=1, options={"region": "us-esat-1"})
    code, out, err = run(capsys, stack, "validate")
    assert code == 2 and re.search(r"stack\.yml:\d+:\d+: provider option 'region': unknown AWS region 'us-esat-1'",
                                   err), err
    assert "(did you mean 'us-" in err


def test_unknown_region_from_the_environment_exit_2(capsys, ec2_stack, monkeypatch):
    stack = ec2_stack(count=1, options={"region": REGION})
    document = json.loads(stack.path.read_text())
    del document["stack"]["provider_options"]["region"]
    stack.path.write_text(json.dumps(document))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "mars-north-1")
    code, out, err = run(capsys, stack, "instances", "list")
    assert code == 2 and "unknown AWS region 'mars-north-1'" in err


@pytest.mark.parametrize("options, message", [
    ({"instance_typ": "t3.micro"}, "unknown ec2 provider option 'instance_typ' (did you mean 'instance_type'?)"),
    ({"security_group_ids": "sg-1"}, "provider option 'security_group_ids' must be a list, not a string"),
    ({"security_group_ids": [1]}, "provider option 'security_group_ids': must be a list of security group ids"),
    ({"address": "both"}, "provider option 'address': must be one of public, private, not 'both'"),
    ({"root_device_type": "ssd"}, "provider option 'root_device_type': must be one of ebs, instance-store"),
    ({"tags": {"cost": 5}}, "provider option 'tags': tag 'cost' must map a string to a string"),
    ({"tags": {"runner:stack": "x"}}, "provider option 'tags': tag 'runner:stack' is reserved"),
    ({"wait_timeout": 0}, "provider option 'wait_timeout': must be more than 0 seconds"),
    ({"endpoint_url": "127.0.0.1:5000"}, "provider option 'endpoint_url': must be an http:// or https:// URL"),
])
def test_bad_options_exit_2_with_line_and_column(capsys, ec2_stack, options, message):
    stack = ec2_stack(count=1, options=options)
    for argv in (["validate"], ["instances", "list"]):
        code, out, err = run(capsys, stack, *argv)
        assert code == 2 and re.search(r"stack\.yml:\d+:\d+: ", err) and message in err, err


def test_an_instance_without_image_id_is_located(capsys, ec2_stack):
    stack = ec2_stack(count=1)
    document = json.loads(stack.path.read_text())
    del document["stack"]["provider_options"]["image_id"]
    stack.path.write_text(json.dumps(document, indent=2))
    code, out, err = run(capsys, stack, "validate")
    assert code == 2 and re.search(r"stack\.yml:\d+:\d+: ec2 instance 'app1' has no image_id", err), err


def test_half_made_start_exits_1_without_traceback(capsys, ec2_stack, ec2):
    stack = ec2_stack(names=["good1", "bad1"], config={
        "instances": {"bad1": {"provider_options": {"image_id": "ami-0000000000deadbeef"}}}})
    code, out, err = run(capsys, stack, "instances", "start", "--no-lifecycle")
    assert code == 1 and "InvalidAMIID.NotFound" in err and "good1 (i-" in err, err
    assert len(stack_instances(ec2, stack.name)) == 1


def test_start_with_lifecycle_and_strict_keys_explains_accept_new(capsys, ec2_stack):
    """moto's console shows no cloud-init key block: the start stops before any SSH connection, exit 1."""
    stack = ec2_stack(count=1, options={"wait_timeout": 0.2})
    code, out, err = run(capsys, stack, "instances", "start")
    assert code == 1 and "shows no SSH host keys" in err and "ssh.host_key_policy: accept-new" in err, err
