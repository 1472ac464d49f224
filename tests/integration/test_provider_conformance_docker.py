"""The provider conformance suite of runner.testing, whole (API and SSH parts), against the docker provider."""

from __future__ import annotations

import pytest

from runner.testing import ProviderConformance, write_stack


@pytest.mark.integration
class TestDockerConformance(ProviderConformance):
    identity_detail = "container"

    @pytest.fixture
    def provider_stack(self, runner_docker_session, tmp_path):
        stack = write_stack(tmp_path, "docker", count=2)
        runner_docker_session.stacks.append(stack.name)  # removed at the session's end whatever happens
        return stack
