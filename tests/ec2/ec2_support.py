"""Helpers of the ec2 tests: the AWS environment, and looking at what moto holds."""

from __future__ import annotations

import os
from typing import Any

import pytest

REGION = "us-east-1"


def clear_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS variable of this machine's, no config files, no metadata service."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask 169.254.169.254 for credentials


def base_options(endpoint: str, image_id: str) -> dict[str, Any]:
    return {"endpoint_url": endpoint, "region": REGION, "image_id": image_id, "instance_type": "t3.micro",
            "wait_timeout": 5, "poll_interval": 0.01}


def tags_of(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", [])}


def stack_instances(ec2: Any, stack: str, live_only: bool = True) -> list[dict[str, Any]]:
    """Every EC2 instance moto has with the stack's tag (not terminated ones, unless asked)."""
    filters = [{"Name": "tag:runner:stack", "Values": [stack]}]
    if live_only:
        filters.append({"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]})
    reply = ec2.describe_instances(Filters=filters)
    return [i for r in reply["Reservations"] for i in r["Instances"]]
