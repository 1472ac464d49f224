"""Talking to EC2: one client per (region, endpoint), and AWS's errors turned into runner's.

Credentials and the region come from boto3's own chain (environment, shared
config and profile, container or instance role); the ``region`` option
overrides the region, ``endpoint_url`` the endpoint (moto, or another
EC2-compatible cloud). A region botocore does not know is refused here,
before any request: boto3 would otherwise make up a host name for it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from runner.errors import Location, RunnerError, UserError
from runner_ec2.options import region_problem

#: Hints for AWS's error codes, by code or by code prefix (ending in ".").
HINTS = {
    "InvalidAMIID.": "check image_id: AMIs belong to one region, and the image may have been deregistered",
    "InvalidSubnetID.": "check subnet_id: subnets belong to one region and VPC",
    "InvalidSubnet": "check subnet_id",
    "InvalidGroup.": "check security_group_ids: groups belong to the subnet's VPC",
    "InvalidKeyPair.": "check key_name: key pairs belong to one region (aws ec2 describe-key-pairs)",
    "InvalidParameterValue": "check the ec2 provider_options",
    "InstanceLimitExceeded": "an EC2 quota is reached: stop or destroy instances, or ask AWS for a higher quota",
    "VcpuLimitExceeded": "the vCPU quota is reached: stop or destroy instances, or ask AWS for a higher quota",
    "InsufficientInstanceCapacity": "AWS has no capacity for this type here now: try another instance_type "
                                    "or subnet (availability zone), or later",
    "AuthFailure": "check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID...) and that the region is enabled",
    "UnauthorizedOperation": "the credentials may not do this: check their IAM policy",
    "InvalidClientTokenId": "check the AWS credentials",
    "OptInRequired": "enable the region (or the AMI's subscription) for this account",
}

CREDENTIALS_HINT = ("set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                    "or run where an instance or container role gives them")


def hint_for(code: str) -> str | None:
    for key, hint in HINTS.items():
        if code == key or (key.endswith(".") and code.startswith(key)):
            return hint
    return None


def error_code(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def error_message(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Message", "")) or str(exc)


class Clients:
    """boto3 EC2 clients by (region, endpoint_url), made once each (boto3 clients are thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple[str | None, str | None], Any] = {}

    def get(self, region: str | None, endpoint_url: str | None, where: Location | None = None) -> Any:
        key = (region, endpoint_url)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = _client(region, endpoint_url, where)
            return self._clients[key]


def _client(region: str | None, endpoint_url: str | None, where: Location | None) -> Any:
    import boto3
    import botocore.exceptions as errors

    try:
        session = boto3.session.Session(region_name=region)
    except errors.ProfileNotFound as exc:
        raise UserError(f"AWS profile not found: {exc}", hint="check AWS_PROFILE") from None
    name = session.region_name
    if not name:
        raise UserError("no AWS region for the ec2 provider", where,
                        hint="set provider_options region, or AWS_DEFAULT_REGION, or region in the AWS profile")
    problem = region_problem(name)
    if problem:
        raise UserError(problem, where if region else None,
                        hint="set provider_options region (or AWS_DEFAULT_REGION) to a region EC2 has")
    return session.client("ec2", region_name=name, endpoint_url=endpoint_url)


@contextlib.contextmanager
def aws_errors(doing: str, where: Location | None = None, made: list[str] | None = None) -> Iterator[None]:
    """AWS's errors as a UserError carrying AWS's code and message (exit 2).

    When ``made`` names instances already created or started in this call, a
    plain RunnerError (exit 1) instead: the stack is half done, not untouched.
    """
    import botocore.exceptions as errors

    try:
        yield
    except (errors.NoCredentialsError, errors.PartialCredentialsError) as exc:
        raise _error(f"no AWS credentials to {doing}: {exc}", where, CREDENTIALS_HINT, made) from None
    except errors.ClientError as exc:
        code = error_code(exc)
        raise _error(f"EC2 refused to {doing}: {code}: {error_message(exc)}", where, hint_for(code), made) from None
    except errors.BotoCoreError as exc:
        raise _error(f"cannot {doing}: {exc}", where, "check region and endpoint_url", made) from None


def _error(message: str, where: Location | None, hint: str | None, made: list[str] | None) -> RunnerError:
    if made:
        text = f"{message} (after making or starting {', '.join(made)}: run `runner instances start` again " \
               "once fixed, it finds them by their tags)"
        if hint:
            text += f"; {hint}"
        return RunnerError(text)
    return UserError(message, where, hint=hint)
