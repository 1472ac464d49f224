"""A conformance suite for providers: the behaviour every provider plugin owes the engine.

Subclass it in a test module (pytest collects subclasses named ``Test...``)
and give it a ``provider_stack`` fixture returning a fresh :class:`Stack` for
your provider, with two instances or more, whose instances the suite may
create, stop and destroy (it destroys them after each test)::

    from runner.testing import ProviderConformance

    class TestMyProvider(ProviderConformance):
        @pytest.fixture
        def provider_stack(self, tmp_path):
            return write_stack(tmp_path, "myprovider", count=2)

:class:`ProviderApiConformance` is the part that needs no SSH (start creates
every instance, is idempotent, speaks OpsWorks' status words, stop/start,
heal of a stopped instance, destroy, unknown names, option checking); :class:`ProviderSshConformance`
checks that what the provider reports online answers SSH under
``host_key_policy: strict`` (the provider recorded the host keys) and runs a
command, before and after a stop and start. :class:`ProviderConformance` is
both. Set ``wait_for_ssh = False`` to start without waiting for sshd (a
stand-in cloud whose machines run no sshd, e.g. moto) and
``identity_detail`` to the ``InstanceState.details`` key naming the machine
(``"instance_id"``, ``"container"``) to check that a second start keeps it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from runner.errors import UserError
from runner.model.stack import Stack
from runner.providers.api import (
    HEAL_MODES,
    HEAL_RESTART,
    MISSING,
    ONLINE,
    STATUSES,
    STOPPED,
    TERMINATED,
    InstanceState,
    Provider,
    start_instances,
)


def make_provider(stack: Stack) -> Provider:
    """The stack's provider, found through the plugin registry as the CLI finds it."""
    from runner.plugin.registry import Registry

    return Registry.load().provider(stack.provider)(stack)


class ProviderApiConformance:
    """The provider API part: no SSH connection is made."""

    wait_for_ssh: bool = True
    identity_detail: str | None = None

    @pytest.fixture
    def provider_stack(self) -> Stack:  # pragma: no cover - a subclass gives it
        raise NotImplementedError("a ProviderConformance subclass gives a provider_stack fixture")

    @pytest.fixture
    def provider(self, provider_stack: Stack) -> Iterator[Provider]:
        assert len(provider_stack.instances) >= 2, "the conformance stack needs two instances or more"
        provider = make_provider(provider_stack)
        try:
            yield provider
        finally:
            provider.destroy()

    def start(self, provider: Provider, names: list[str] | None = None) -> list[InstanceState]:
        return start_instances(provider, names, wait_for_ssh=self.wait_for_ssh)

    def test_start_creates_every_instance(self, provider: Provider) -> None:
        names = list(provider.stack.instances)
        assert [s.status for s in provider.status()] == [MISSING] * len(names)
        states = self.start(provider)
        assert [s.name for s in states] == names
        assert all(s.online for s in states), states
        assert [s.name for s in provider.status() if s.online] == names
        assert {h.instance for h in provider.hosts()} == set(names)

    def test_start_again_is_idempotent(self, provider: Provider) -> None:
        first = self.start(provider)
        again = self.start(provider)
        assert [s.host for s in again] == [s.host for s in first]
        if self.identity_detail:
            assert [s.details[self.identity_detail] for s in again] == [s.details[self.identity_detail] for s in first]
            assert len({s.details[self.identity_detail] for s in again}) == len(again)

    def test_status_words_are_opsworks_words(self, provider: Provider) -> None:
        seen = [s.status for s in provider.status()]
        seen += [s.status for s in self.start(provider)] + [s.status for s in provider.status()]
        assert set(seen) <= set(STATUSES), seen

    def test_stop_then_start_again(self, provider: Provider) -> None:
        first, second = list(provider.stack.instances)[:2]
        self.start(provider)
        (stopped,) = provider.stop([first])
        assert stopped.status == STOPPED and not stopped.online
        assert [s.status for s in provider.status([first, second])] == [STOPPED, ONLINE]
        assert provider.stop([first])[0].status == STOPPED  # idempotent
        (back,) = self.start(provider, [first])
        assert back.online

    def test_heal_brings_a_stopped_instance_back(self, provider: Provider) -> None:
        if not provider.can_heal:
            pytest.skip(f"the {provider.name} provider does not heal (can_heal is False)")
        first, second = list(provider.stack.instances)[:2]
        started = {s.name: s for s in self.start(provider)}
        provider.stop([first])
        mode = provider.heal_mode(first)
        assert mode in HEAL_MODES
        (healed,) = provider.heal([first], wait_for_ssh=self.wait_for_ssh)
        assert healed.name == first and healed.online
        assert provider.status([second])[0].online  # the others are left alone
        if self.identity_detail and mode == HEAL_RESTART:
            assert healed.details[self.identity_detail] == started[first].details[self.identity_detail]

    def test_destroy_leaves_missing_or_terminated(self, provider: Provider) -> None:
        self.start(provider)
        provider.destroy()
        assert {s.status for s in provider.status()} <= {MISSING, TERMINATED}
        provider.destroy()  # nothing left to destroy: fine
        assert all(s.online for s in self.start(provider))  # and made anew

    def test_unknown_instance_is_a_user_error(self, provider: Provider) -> None:
        for verb in (provider.status, provider.start, provider.stop):
            with pytest.raises(UserError):
                verb(["no-such-instance"])

    def test_check_options_rejects_an_unknown_option(self, provider: Provider) -> None:
        stack = provider.stack
        assert type(provider).check_options(stack) == []
        bad = dataclasses.replace(stack, provider_options={**stack.provider_options, "no_such_option_zz": 1})
        errors = type(provider).check_options(bad)
        assert errors and all(isinstance(e, UserError) for e in errors)
        assert "no_such_option_zz" in str(errors[0])


class ProviderSshConformance:
    """The SSH part: online hosts answer SSH with strict host keys, before and after a stop/start."""

    @pytest.fixture
    def provider_stack(self) -> Stack:  # pragma: no cover - a subclass gives it
        raise NotImplementedError("a ProviderConformance subclass gives a provider_stack fixture")

    @pytest.fixture
    def ssh_provider(self, provider_stack: Stack) -> Iterator[Provider]:
        provider = make_provider(provider_stack)
        try:
            yield provider
        finally:
            provider.destroy()

    @staticmethod
    def run_everywhere(provider: Provider, states: list[InstanceState]) -> None:
        from runner.ssh.api import connection_for
        from runner.ssh.target import resolve_target

        hosts = [s.host for s in states if s.online and s.host is not None]
        assert len(hosts) == len(states), states
        for host in hosts:
            target = dataclasses.replace(resolve_target(provider.stack, host), host_key_policy="strict")
            with connection_for(target) as conn:
                result = conn.run("echo conformance-$((40 + 2))", timeout=60)
            assert result.exit_status == 0 and result.stdout.decode().strip() == "conformance-42", result

    def test_online_hosts_answer_ssh_with_strict_host_keys(self, ssh_provider: Provider) -> None:
        self.run_everywhere(ssh_provider, start_instances(ssh_provider))

    def test_ssh_answers_again_after_stop_and_start(self, ssh_provider: Provider) -> None:
        start_instances(ssh_provider)
        ssh_provider.stop()
        self.run_everywhere(ssh_provider, start_instances(ssh_provider))


class ProviderConformance(ProviderApiConformance, ProviderSshConformance):
    """The whole suite: the API part and the SSH part."""
