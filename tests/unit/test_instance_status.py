"""The OpsWorks status overlay (pure): provider state + setup record + SSH result -> the word shown."""

from __future__ import annotations

import pytest

from runner.api.instance_status import CONNECTION_CAUSES, STALE, overlay, shown
from runner.api.setup_record import SetupEntry
from runner.providers.api import (
    BOOTING,
    CONNECTION_LOST,
    MISSING,
    ONLINE,
    PENDING,
    REQUESTED,
    RUNNING_SETUP,
    SETUP_FAILED,
    SHUTTING_DOWN,
    START_FAILED,
    STATUSES,
    STOP_FAILED,
    STOPPED,
    STOPPING,
    TERMINATED,
    HostAddress,
    InstanceState,
)

RUNNING = SetupEntry(RUNNING_SETUP, "2026-12-02T09:00:00+00:00", pid=4242, host="here")
FAILED = SetupEntry(SETUP_FAILED, "2026-12-02T09:00:00+00:00", pid=4242, host="here", error="execute[false] failed")
NOT_ONLINE = (MISSING, REQUESTED, PENDING, BOOTING, START_FAILED, STOPPING, STOP_FAILED, STOPPED, SHUTTING_DOWN,
              TERMINATED, CONNECTION_LOST, "exited")  # the last: a provider's own word, passed on


def test_online_without_record_or_ssh_failure_stays_online() -> None:
    view = overlay(ONLINE, True)
    assert (view.status, view.provider_status, view.reason, view.overridden) == (ONLINE, ONLINE, None, False)


@pytest.mark.parametrize("word", NOT_ONLINE)
@pytest.mark.parametrize("entry", [None, RUNNING, FAILED])
def test_an_instance_not_online_shows_the_providers_word_whatever_the_record(word: str, entry) -> None:
    view = overlay(word, False, entry, alive=False, ssh_cause="refused")
    assert view.status == word and not view.overridden and view.reason is None


def test_online_but_without_an_address_is_not_overlaid() -> None:
    assert overlay(ONLINE, False, FAILED).status == ONLINE  # what the provider said; runs skip it anyway


def test_running_setup_while_its_run_is_alive() -> None:
    view = overlay(ONLINE, True, RUNNING, alive=True)
    assert view.status == RUNNING_SETUP and view.provider_status == ONLINE and view.overridden
    assert "4242" in (view.reason or "")


def test_running_setup_whose_run_is_gone_is_setup_failed() -> None:
    view = overlay(ONLINE, True, RUNNING, alive=False)
    assert (view.status, view.reason) == (SETUP_FAILED, STALE)


def test_setup_failed_is_remembered_with_its_error() -> None:
    view = overlay(ONLINE, True, FAILED, alive=False)
    assert (view.status, view.reason) == (SETUP_FAILED, "execute[false] failed")
    assert overlay(ONLINE, True, SetupEntry(SETUP_FAILED, "t")).reason == "setup failed"


@pytest.mark.parametrize("cause", sorted(CONNECTION_CAUSES))
@pytest.mark.parametrize("entry", [None, RUNNING, FAILED])
def test_ssh_that_cannot_reach_an_online_host_is_connection_lost(cause: str, entry) -> None:
    view = overlay(ONLINE, True, entry, alive=True, ssh_cause=cause, ssh_error="connect timed out after 10 s")
    assert (view.status, view.provider_status, view.reason) == (CONNECTION_LOST, ONLINE,
                                                               "connect timed out after 10 s")


@pytest.mark.parametrize("cause", ["key", "host-key-changed", "host-key-unknown", "sudo", "error"])
def test_other_ssh_failures_leave_the_status_alone(cause: str) -> None:
    assert overlay(ONLINE, True, ssh_cause=cause, ssh_error="x").status == ONLINE
    assert overlay(ONLINE, True, FAILED, ssh_cause=cause).status == SETUP_FAILED


def test_connection_causes_are_ones_the_ssh_layer_raises() -> None:
    import inspect

    from runner.ssh import connection
    source = inspect.getsource(connection)
    assert all(f'"{cause}"' in source for cause in CONNECTION_CAUSES)


def test_every_word_the_overlay_gives_is_a_status() -> None:
    words = {overlay(p, p == ONLINE, e, alive=a, ssh_cause=c).status
             for p in STATUSES for e in (None, RUNNING, FAILED) for a in (True, False) for c in (None, "timeout")}
    assert words <= set(STATUSES)
    assert {ONLINE, RUNNING_SETUP, SETUP_FAILED, CONNECTION_LOST} <= words


def test_shown_looks_up_the_running_setups_process() -> None:
    import os
    import socket
    host = HostAddress("web1", "web1", "127.0.0.1", 22)
    state = InstanceState("web1", ONLINE, host)
    mine = SetupEntry(RUNNING_SETUP, "t", pid=os.getpid(), host=socket.gethostname())
    assert shown(state, mine).status == RUNNING_SETUP
    gone = SetupEntry(RUNNING_SETUP, "t", pid=0, host=socket.gethostname())
    assert shown(state, gone).status == SETUP_FAILED
    elsewhere = SetupEntry(RUNNING_SETUP, "t", pid=0, host=socket.gethostname() + "-other")
    assert shown(state, elsewhere).status == RUNNING_SETUP  # another controller's process: not checkable here
    assert shown(InstanceState("web1", STOPPED), mine).status == STOPPED
