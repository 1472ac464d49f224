"""The ec2 provider through runner.api's Session and the provider API, against moto's EC2 server."""

from __future__ import annotations

from typing import Any

import pytest
from ec2_support import stack_instances, tags_of
from runner_ec2.provider import Ec2Provider

from runner.api import Session
from runner.errors import HostError, RunnerError, UserError
from runner.providers.api import HEAL_REPLACE, HEAL_RESTART, MISSING, ONLINE, STOPPED, TERMINATED, start_instances
from runner.testing import ProviderApiConformance


def session_start(stack: Any, **selection: Any) -> Any:
    with Session.open(stack.path) as session:
        return session.instances_start(**selection, lifecycle=False)


def test_start_creates_each_instance_tagged_with_its_merged_options(ec2_stack, ec2):
    stack = ec2_stack(names=["web1", "db1", "db2"], layers=(), config={
        "stack": {"provider_options": {"tags": {"team": "core"}}},
        "layers": {"web": {"provider_options": {"instance_type": "t3.small", "tags": {"role": "web"}}},
                   "db": {"provider_options": {"instance_type": "r5.large", "tags": {"role": "db"}}}},
        "instances": {"web1": {"layers": ["web"]}, "db1": {"layers": ["db"]},
                      "db2": {"layers": ["db", "web"], "provider_options": {"instance_type": "m5.xlarge",
                                                                            "tags": {"backup": "daily"}}}},
    })
    report = session_start(stack)
    assert report.ok and [r.status for r in report.instances] == [ONLINE] * 3
    made = {tags_of(i)["runner:instance"]: i for i in stack_instances(ec2, stack.name)}
    assert {n: i["InstanceType"] for n, i in made.items()} == {"web1": "t3.small", "db1": "r5.large",
                                                                "db2": "m5.xlarge"}
    for name, item in made.items():
        tags = tags_of(item)
        inst = stack.instances[name]
        assert tags["runner:stack"] == stack.name and tags["Name"] == inst.hostname
        assert tags["runner:layers"] == ",".join(inst.layers) and tags["team"] == "core"
    assert tags_of(made["web1"])["role"] == "web"
    assert tags_of(made["db2"])["role"] == "db" and tags_of(made["db2"])["backup"] == "daily"
    rows = {r.instance: r for r in report.instances}
    assert rows["db2"].details["instance_id"] == made["db2"]["InstanceId"]
    assert rows["db2"].details["instance_type"] == "m5.xlarge" and rows["db2"].details["ec2_state"] == "running"
    assert rows["db2"].address == made["db2"]["PublicIpAddress"]  # address: public, the default


def test_a_second_start_finds_them_by_tag_and_creates_nothing(ec2_stack, ec2):
    stack = ec2_stack(count=2)
    first = {r.instance: r.details["instance_id"] for r in session_start(stack).instances}
    again = {r.instance: r.details["instance_id"] for r in session_start(stack).instances}
    assert again == first
    assert len(stack_instances(ec2, stack.name)) == 2


def test_an_instance_tagged_by_hand_is_adopted_not_duplicated(ec2_stack, ec2, images):
    stack = ec2_stack(names=["app1", "app2"])
    tags = [{"Key": "runner:stack", "Value": stack.name}, {"Key": "runner:instance", "Value": "app1"}]
    by_hand = ec2.run_instances(ImageId=images["ebs"], InstanceType="c5.large", MinCount=1, MaxCount=1,
                                TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])["Instances"][0]
    report = session_start(stack)
    rows = {r.instance: r for r in report.instances}
    assert rows["app1"].details["instance_id"] == by_hand["InstanceId"]
    assert rows["app1"].details["instance_type"] == "c5.large"  # adopted as it is
    assert len(stack_instances(ec2, stack.name)) == 2


def test_stop_then_start_the_same_instance(ec2_stack, ec2):
    stack = ec2_stack(count=2)
    started = {r.instance: r.details["instance_id"] for r in session_start(stack).instances}
    with Session.open(stack.path) as session:
        stopped = session.instances_stop(instances=["app1"], lifecycle=False)
        assert [(r.instance, r.status) for r in stopped.instances] == [("app1", STOPPED)]
        listed = {r.instance: r for r in session.instances_list().instances}
    assert listed["app1"].status == STOPPED and listed["app1"].details["ec2_state"] == "stopped"
    assert listed["app1"].address is None and listed["app2"].status == ONLINE
    again = {r.instance: r.details["instance_id"] for r in session_start(stack).instances}
    assert again == started


def test_instance_store_instances_are_not_stopped(ec2_stack, ec2, images):
    stack = ec2_stack(count=1, options={"image_id": images["instance-store"]})
    session_start(stack)
    provider = Ec2Provider(stack)
    with pytest.raises(UserError) as caught:
        provider.stop()
    text = str(caught.value)
    assert "EC2 cannot stop instance-store-backed instances" in text and "runner instances destroy" in text
    assert [s.status for s in provider.status()] == [ONLINE]  # untouched


def test_root_device_type_must_match_the_image(ec2_stack, images):
    stack = ec2_stack(count=1, options={"root_device_type": "instance-store"})
    with pytest.raises(UserError, match="is ebs-backed, but root_device_type says instance-store"):
        Ec2Provider(stack).start(wait_for_ssh=False)
    store = ec2_stack(count=1, options={"image_id": images["instance-store"], "root_device_type": "instance-store"})
    assert [s.status for s in Ec2Provider(store).start(wait_for_ssh=False)] == [ONLINE]


def test_destroy_terminates_and_the_next_start_makes_new_ones(ec2_stack, ec2):
    stack = ec2_stack(count=2)
    first = {r.instance: r.details["instance_id"] for r in session_start(stack).instances}
    with Session.open(stack.path) as session:
        report = session.instances_destroy(lifecycle=False)
    assert {r.status for r in report.instances} <= {TERMINATED, MISSING}
    assert stack_instances(ec2, stack.name) == []
    again = {r.instance: r.details["instance_id"] for r in session_start(stack).instances}
    assert set(again.values()).isdisjoint(first.values())


def test_status_of_never_made_instances_is_missing(ec2_stack):
    stack = ec2_stack(count=2)
    assert [s.status for s in Ec2Provider(stack).status()] == [MISSING, MISSING]


def test_private_address_when_asked(ec2_stack, ec2):
    stack = ec2_stack(count=1, options={"address": "private"})
    (state,) = Ec2Provider(stack).start(wait_for_ssh=False)
    (item,) = stack_instances(ec2, stack.name)
    assert state.host.address == item["PrivateIpAddress"] == state.host.private_address


def test_strict_host_keys_need_keys_on_the_console(ec2_stack):
    """moto's console output is a kernel log without cloud-init's key block: a clear error, no connection."""
    stack = ec2_stack(count=1, options={"wait_timeout": 0.2})
    with pytest.raises(HostError) as caught:
        start_instances(Ec2Provider(stack), wait_for_ssh=True)
    text = str(caught.value)
    assert "shows no SSH host keys" in text and "host_key_policy: accept-new" in text
    assert not stack.known_hosts_path.exists()


def test_a_failure_after_some_were_made_is_not_a_user_error(ec2_stack, ec2):
    stack = ec2_stack(names=["good1", "bad1"], config={
        "instances": {"bad1": {"provider_options": {"subnet_id": "subnet-00000000deadbeef"}}}})
    with pytest.raises(RunnerError) as caught:
        Ec2Provider(stack).start(wait_for_ssh=False)
    assert not isinstance(caught.value, UserError)
    text = str(caught.value)
    assert "InvalidSubnetID.NotFound" in text and "good1 (i-" in text
    assert [tags_of(i)["runner:instance"] for i in stack_instances(ec2, stack.name)] == ["good1"]


class TestEc2Conformance(ProviderApiConformance):
    """The provider conformance suite's API part on moto (moto's machines run no sshd)."""

    wait_for_ssh = False
    identity_detail = "instance_id"

    @pytest.fixture
    def provider_stack(self, ec2_stack):
        return ec2_stack(count=2)


def test_heal_starts_an_ebs_instance_stopped_outside_runner_again(ec2_stack, ec2):
    stack = ec2_stack(count=2)
    provider = Ec2Provider(stack)
    first = {s.name: s.details["instance_id"] for s in provider.start(wait_for_ssh=False)}
    ec2.stop_instances(InstanceIds=[first["app1"]])
    assert provider.heal_mode("app1") == HEAL_RESTART
    (state,) = provider.heal(["app1"], wait_for_ssh=False)
    assert (state.name, state.status, state.details["instance_id"]) == ("app1", ONLINE, first["app1"])
    assert {s.name: s.details["instance_id"] for s in provider.status()} == first
    assert len(stack_instances(ec2, stack.name)) == 2


def test_heal_replaces_an_instance_store_instance_and_never_adopts_a_terminated_one(ec2_stack, ec2, images):
    stack = ec2_stack(count=1, options={"image_id": images["instance-store"]})
    provider = Ec2Provider(stack)
    (old,) = provider.start(wait_for_ssh=False)
    assert provider.heal_mode("app1") == HEAL_REPLACE  # from the running instance (its settings say nothing)
    (new,) = provider.heal(["app1"], wait_for_ssh=False)
    assert new.status == ONLINE and new.details["instance_id"] != old.details["instance_id"]
    (item,) = stack_instances(ec2, stack.name)
    assert item["InstanceId"] == new.details["instance_id"]
    assert {k: tags_of(item)[k] for k in ("runner:instance", "Name")} == {
        "runner:instance": "app1", "Name": stack.instances["app1"].hostname}
    gone = ec2.describe_instances(InstanceIds=[old.details["instance_id"]])["Reservations"][0]["Instances"][0]
    assert gone["State"]["Name"] == "terminated"

    ec2.terminate_instances(InstanceIds=[new.details["instance_id"]])  # lost outside runner
    (again,) = provider.heal(["app1"], wait_for_ssh=False)
    assert again.status == ONLINE
    assert again.details["instance_id"] not in (old.details["instance_id"], new.details["instance_id"])
    assert [i["InstanceId"] for i in stack_instances(ec2, stack.name)] == [again.details["instance_id"]]


def test_heal_mode_from_the_settings_alone(ec2_stack, images):
    stack = ec2_stack(count=1, options={"image_id": images["instance-store"], "root_device_type": "instance-store"})
    assert Ec2Provider(stack).heal_mode("app1") == HEAL_REPLACE  # nothing made yet
    assert Ec2Provider(ec2_stack(count=1)).heal_mode("app1") == HEAL_RESTART
