"""Provider.heal's default: restart ones stopped, replace ones destroyed, then all started, in the order asked."""

from __future__ import annotations

import textwrap

import pytest

from runner.errors import RunnerError, UserError
from runner.model.loader import load_stack
from runner.providers.api import (
    HEAL_MODES,
    HEAL_REPLACE,
    HEAL_RESTART,
    MISSING,
    ONLINE,
    STOPPED,
    InstanceState,
    Provider,
)
from runner.providers.static import StaticProvider


class Memory(Provider):
    """Instances kept in a dict; every call is logged. ``modes`` gives heal_mode per instance."""

    name = "memory"

    def __init__(self, stack, modes=None):
        super().__init__(stack)
        self.modes = dict(modes or {})
        self.states = {name: STOPPED for name in stack.instances}
        self.calls: list[tuple] = []

    def heal_mode(self, instance):
        return self.modes.get(instance, super().heal_mode(instance))

    def status(self, names=None):
        return [InstanceState(n, self.states[n]) for n in self._names(names)]

    def start(self, names=None, *, wait_for_ssh=True):
        wanted = self._names(names)
        self.calls.append(("start", wanted, wait_for_ssh))
        for n in wanted:
            self.states[n] = ONLINE
        return [InstanceState(n, ONLINE) for n in reversed(wanted)]  # heal puts them back in order

    def stop(self, names=None):
        self.calls.append(("stop", self._names(names)))
        return self.status(names)

    def destroy(self, names=None):
        self.calls.append(("destroy", self._names(names)))
        for n in self._names(names):
            self.states[n] = MISSING


@pytest.fixture
def stack(tmp_path):
    path = tmp_path / "stack.yml"
    path.write_text(textwrap.dedent("""\
        stack: {name: s, provider: static}
        layers: {app: {}}
        instances:
          a: {layers: [app], address: 127.0.0.1}
          b: {layers: [app], address: 127.0.0.1}
          c: {layers: [app], address: 127.0.0.1}
    """))
    return load_stack(path)


def test_heal_modes():
    assert (HEAL_RESTART, HEAL_REPLACE) == HEAL_MODES == ("restart", "replace")


def test_the_default_mode_is_restart(stack):
    assert Memory(stack).heal_mode("a") == HEAL_RESTART
    assert Memory.can_heal is True


def test_restart_ones_are_stopped_replace_ones_destroyed_then_all_started(stack):
    provider = Memory(stack, {"b": HEAL_REPLACE})
    states = provider.heal(["c", "b", "a"])
    assert provider.calls == [("stop", ["c", "a"]), ("destroy", ["b"]), ("start", ["c", "b", "a"], True)]
    assert [(s.name, s.status) for s in states] == [("c", ONLINE), ("b", ONLINE), ("a", ONLINE)]


def test_only_the_verbs_needed_are_called(stack):
    replace_all = Memory(stack, dict.fromkeys("abc", HEAL_REPLACE))
    replace_all.heal(["a"])
    assert replace_all.calls == [("destroy", ["a"]), ("start", ["a"], True)]
    restart = Memory(stack)
    restart.heal(["b"], wait_for_ssh=False)
    assert restart.calls == [("stop", ["b"]), ("start", ["b"], False)]


def test_nothing_to_heal_calls_nothing(stack):
    provider = Memory(stack)
    assert provider.heal([]) == []
    assert provider.calls == []


def test_an_unknown_mode_is_a_provider_bug_not_a_user_error(stack):
    provider = Memory(stack, {"a": "reboot"})
    with pytest.raises(RunnerError, match="heal_mode gave 'reboot'") as caught:
        provider.heal(["a", "b"])
    assert not isinstance(caught.value, UserError)
    assert provider.calls == []


def test_the_static_provider_never_heals(stack):
    provider = StaticProvider(stack)
    assert provider.can_heal is False
    with pytest.raises(UserError, match="cannot heal"):
        provider.heal(["a"])
