"""AWS's error replies turned into runner's errors: a UserError with AWS's code and a hint, or exit 1 once half made.

The replies are botocore's own exception type filled as botocore fills it from
an EC2 error response (moto cannot be made to refuse for a quota).
"""

from __future__ import annotations

import botocore.exceptions
import pytest
from runner_ec2.aws import aws_errors, hint_for

from runner.errors import RunnerError, UserError


def refusal(code: str, message: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, "RunInstances")


def test_a_quota_is_a_user_error_with_code_message_and_what_to_do():
    with pytest.raises(UserError) as caught, aws_errors("create web1 (RunInstances)"):
        raise refusal("VcpuLimitExceeded", "You have requested more vCPU capacity than your current vCPU limit")
    text = str(caught.value)
    assert "EC2 refused to create web1 (RunInstances): VcpuLimitExceeded: You have requested more vCPU" in text
    assert "higher quota" in text


def test_once_something_was_made_it_is_exit_1_and_names_what_was_made():
    with pytest.raises(RunnerError) as caught, aws_errors("create db1 (RunInstances)", made=["web1 (i-0abc)"]):
        raise refusal("InstanceLimitExceeded", "You have requested more instances (21) than your current limit")
    assert not isinstance(caught.value, UserError)
    assert "InstanceLimitExceeded" in str(caught.value) and "web1 (i-0abc)" in str(caught.value)


@pytest.mark.parametrize("code, word", [("InvalidAMIID.NotFound", "image_id"), ("InvalidAMIID.Malformed", "image_id"),
                                        ("InvalidSubnetID.NotFound", "subnet_id"), ("AuthFailure", "credentials"),
                                        ("InvalidKeyPair.NotFound", "key_name")])
def test_hints_by_code(code, word):
    assert word in (hint_for(code) or "")


def test_an_unknown_code_still_carries_code_and_message():
    assert hint_for("SomethingNew") is None
    with pytest.raises(UserError, match="SomethingNew: it broke"), aws_errors("stop app1"):
        raise refusal("SomethingNew", "it broke")
