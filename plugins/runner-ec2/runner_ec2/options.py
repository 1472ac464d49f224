"""The ec2 provider's ``provider_options``: their types, their values, and one instance's settings."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ROOT_DEVICE_TYPES = ("ebs", "instance-store")
ADDRESSES = ("public", "private")
DEFAULT_WAIT_TIMEOUT = 600.0
DEFAULT_POLL_INTERVAL = 5.0

#: provider_options keys in stack.yml and the type each must have.
OPTIONS: dict[str, tuple[type, ...]] = {
    "region": (str,),
    "endpoint_url": (str,),
    "image_id": (str,),
    "instance_type": (str,),
    "subnet_id": (str,),
    "security_group_ids": (list,),
    "key_name": (str,),
    "root_device_type": (str,),
    "address": (str,),
    "tags": (dict,),
    "wait_timeout": (int, float),
    "poll_interval": (int, float),
}

#: Options every instance needs, from any level.
REQUIRED = ("image_id", "instance_type")


@functools.cache
def known_regions() -> frozenset[str]:
    """Every EC2 region botocore knows, in every partition (read from its bundled data, no network)."""
    import boto3

    session = boto3.session.Session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ec2", partition_name=partition))
    return frozenset(regions)


def region_problem(region: str) -> str | None:
    """What is wrong with a region name, or None."""
    if region in known_regions():
        return None
    close = difflib.get_close_matches(region, sorted(known_regions()), n=1)
    if close:
        return f"unknown AWS region {region!r} (did you mean {close[0]!r}?)"
    return f"unknown AWS region {region!r} (a region newer than this boto3 needs a newer boto3)"


def check_value(key: str, value: Any) -> str | None:
    """What is wrong with one option's value (its type already checked), or None."""
    if key == "root_device_type" and value not in ROOT_DEVICE_TYPES:
        return f"must be one of {', '.join(ROOT_DEVICE_TYPES)}, not {value!r}"
    if key == "address" and value not in ADDRESSES:
        return f"must be one of {', '.join(ADDRESSES)}, not {value!r}"
    if key == "security_group_ids" and not all(isinstance(v, str) and v for v in value):
        return "must be a list of security group ids (strings)"
    if key == "tags":
        for name, text in value.items():
            if not isinstance(name, str) or not isinstance(text, str):
                return f"tag {name!r} must map a string to a string (quote numbers: {name}: \"{text}\")"
            if name.lower().startswith(("aws:", "runner:")) or name == "Name":
                return f"tag {name!r} is reserved (aws:, runner: and Name are set by EC2 and runner)"
    if key == "region":
        return region_problem(value)
    if key == "endpoint_url" and not value.startswith(("http://", "https://")):
        return f"must be an http:// or https:// URL, not {value!r}"
    if key in ("wait_timeout", "poll_interval") and value <= 0:
        return "must be more than 0 seconds"
    if key in ("image_id", "instance_type", "subnet_id", "key_name") and not value.strip():
        return "must not be empty"
    return None


@dataclass(frozen=True)
class Settings:
    """One instance's merged options (its own over its layers' over the stack's)."""

    image_id: str = ""
    instance_type: str = ""
    region: str | None = None
    endpoint_url: str | None = None
    subnet_id: str | None = None
    security_group_ids: tuple[str, ...] = ()
    key_name: str | None = None
    root_device_type: str | None = None
    address: str = "public"
    tags: dict[str, str] = field(default_factory=dict)
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    poll_interval: float = DEFAULT_POLL_INTERVAL

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> "Settings":
        return cls(
            image_id=options.get("image_id", ""),
            instance_type=options.get("instance_type", ""),
            region=options.get("region"),
            endpoint_url=options.get("endpoint_url"),
            subnet_id=options.get("subnet_id"),
            security_group_ids=tuple(options.get("security_group_ids", ())),
            key_name=options.get("key_name"),
            root_device_type=options.get("root_device_type"),
            address=options.get("address", "public"),
            tags=dict(options.get("tags", {})),
            wait_timeout=float(options.get("wait_timeout", DEFAULT_WAIT_TIMEOUT)),
            poll_interval=float(options.get("poll_interval", DEFAULT_POLL_INTERVAL)),
        )

    @property
    def endpoint(self) -> tuple[str | None, str | None]:
        """Which EC2 to talk to: (region, endpoint_url); instances with the same one share a client."""
        return self.region, self.endpoint_url
