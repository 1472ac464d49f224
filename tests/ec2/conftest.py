"""The ec2 provider against moto's EC2 in server mode on 127.0.0.1: fixtures.

boto3 is pointed at moto only through the stack's ``endpoint_url`` option and
fake credentials in the environment; the shared config files, and the
instance metadata service, are kept out. moto's machines run nothing, so no
test here waits for SSH (``--no-lifecycle``, ``wait_for_ssh=False``) or makes
any connection but to moto: the addresses moto hands out are never dialled.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.model.merge import deep_merge
from runner.model.stack import Stack
from runner.testing import write_stack

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server on a free port of 127.0.0.1, checking AMI ids as EC2 does."""
    import moto.settings
    from moto.server import ThreadedMotoServer

    before = moto.settings.ENABLE_AMI_VALIDATION
    moto.settings.ENABLE_AMI_VALIDATION = True  # read on every RunInstances: an unknown AMI is refused
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        moto.settings.ENABLE_AMI_VALIDATION = before


def clear_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS variable of this machine's, no config files, no metadata service."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask 169.254.169.254 for credentials


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_aws_environment(monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def ec2(moto_endpoint: str, aws_env: None) -> Any:
    """A boto3 EC2 client on moto: to look at what the provider made, and to make instances by hand."""
    import boto3

    return boto3.session.Session(region_name=REGION).client("ec2", endpoint_url=moto_endpoint)


@pytest.fixture(scope="session")
def images(moto_endpoint: str) -> dict[str, str]:
    """An EBS-backed and an instance-store-backed AMI id among moto's images (looked up once)."""
    import boto3

    client = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                   region_name=REGION).client("ec2", endpoint_url=moto_endpoint)
    found: dict[str, str] = {}
    for kind in ("ebs", "instance-store"):
        reply = client.describe_images(Owners=["amazon"], Filters=[{"Name": "root-device-type", "Values": [kind]}])
        found[kind] = reply["Images"][0]["ImageId"]
    return found


def base_options(endpoint: str, image_id: str) -> dict[str, Any]:
    return {"endpoint_url": endpoint, "region": REGION, "image_id": image_id, "instance_type": "t3.micro",
            "wait_timeout": 5, "poll_interval": 0.01}


EC2Stack = Callable[..., Stack]


@pytest.fixture
def ec2_stack(tmp_path: Path, moto_endpoint: str, images: dict[str, str], aws_env: None) -> EC2Stack:
    """Factory of ec2 stacks on moto: ``ec2_stack(count=2, layers=("app",), *, names=, config=, options=)``."""
    made = []

    def factory(count: int = 2, layers: tuple[str, ...] = ("app",), *, names: list[str] | None = None,
                config: dict[str, Any] | None = None, options: dict[str, Any] | None = None) -> Stack:
        merged = {**base_options(moto_endpoint, images["ebs"]), **(options or {})}
        document = deep_merge({"stack": {"provider_options": merged}}, config or {})
        stack = write_stack(tmp_path / f"s{len(made)}", "ec2", count, layers, names=names, config=document)
        made.append(stack)
        return stack

    return factory


def tags_of(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", [])}


def stack_instances(ec2: Any, stack: str, live_only: bool = True) -> list[dict[str, Any]]:
    """Every EC2 instance moto has with the stack's tag (not terminated ones, unless asked)."""
    filters = [{"Name": "tag:runner:stack", "Values": [stack]}]
    if live_only:
        filters.append({"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]})
    reply = ec2.describe_instances(Filters=filters)
    return [i for r in reply["Reservations"] for i in r["Instances"]]
