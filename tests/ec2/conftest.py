"""The ec2 provider against moto's EC2 in server mode on 127.0.0.1: fixtures.

boto3 is pointed at moto only through the stack's ``endpoint_url`` option and
fake credentials in the environment; the shared config files, and the
instance metadata service, are kept out. moto's machines run nothing: no test
here gets as far as dialling sshd (``--no-lifecycle``, ``wait_for_ssh=False``, or a
strict start that stops at the console) and the addresses moto hands out are never dialled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ec2_support import REGION, base_options, clear_aws_environment

from runner.model.merge import deep_merge
from runner.model.stack import Stack
from runner.testing import write_stack


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
