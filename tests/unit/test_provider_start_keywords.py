"""start_instances passes wait_for_ssh only to providers that take it; known_hosts.record_keys keeps every key."""

from __future__ import annotations

import textwrap

import pytest

from runner.model.loader import load_stack
from runner.providers.api import ONLINE, InstanceState, Provider, start_instances
from runner.ssh import known_hosts


class Recorder(Provider):
    name = "recorder"

    def status(self, names=None):
        return []

    def start(self, names=None, *, wait_for_ssh=True):
        self.asked = (list(names or []), wait_for_ssh)
        return [InstanceState(n, ONLINE) for n in names or []]

    def stop(self, names=None):
        return []


class Older(Recorder):
    """A provider written before the keyword existed."""

    def start(self, names=None):
        self.asked = (list(names or []), "no keyword")
        return []


@pytest.fixture
def stack(tmp_path):
    path = tmp_path / "stack.yml"
    path.write_text(textwrap.dedent("""\
        stack: {name: s, provider: static}
        layers: {app: {}}
        instances: {app1: {layers: [app], address: 127.0.0.1}}
    """))
    return load_stack(path)


def test_the_keyword_reaches_a_provider_that_takes_it(stack):
    provider = Recorder(stack)
    start_instances(provider, ["app1"], wait_for_ssh=False)
    assert provider.asked == (["app1"], False)
    start_instances(provider, ["app1"])
    assert provider.asked == (["app1"], True)


def test_an_older_provider_is_started_without_it(stack):
    provider = Older(stack)
    start_instances(provider, ["app1"], wait_for_ssh=False)
    assert provider.asked == (["app1"], "no keyword")


def test_record_keys_keeps_one_line_per_key_and_replaces_the_old_ones(tmp_path):
    path = tmp_path / "known_hosts"
    known_hosts.record(path, "198.51.100.7", 22, "ssh-ed25519 OLD", comment="i-1")
    known_hosts.record(path, "198.51.100.8", 22, "ssh-ed25519 OTHER")
    known_hosts.record_keys(path, "198.51.100.7", 22, ["ssh-ed25519 AAAA1", "ssh-rsa BBBB2 root@host"], comment="i-1")
    assert known_hosts.lookup(path, "198.51.100.7", 22) == ["ssh-ed25519 AAAA1", "ssh-rsa BBBB2"]
    assert known_hosts.lookup(path, "198.51.100.8", 22) == ["ssh-ed25519 OTHER"]
    known_hosts.forget(path, comments=["i-1"])
    assert known_hosts.lookup(path, "198.51.100.7", 22) == []
    with pytest.raises(ValueError):
        known_hosts.record_keys(path, "198.51.100.7", 22, [])
