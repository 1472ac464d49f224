"""runner.api without Docker: loading errors, selection, events, hooks and reports against a mute port.

The instances are static ones on 127.0.0.1 at a port where a listener
accepts TCP and hangs up at once: the provider sees them online, and every
SSH connection fails: what a run does with hosts that fail.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from net_support import listening_port

from runner import hookimpl
from runner.api import HostFinished, Progress, RunFinished, RunStarted, Session, UserError
from runner.plugin.registry import Registry
from runner.ssh.group import HostGroup


@pytest.fixture
def mute_port():
    """A port on 127.0.0.1 that accepts connections and closes them (until the test ends)."""
    with listening_port(hang_up=True) as port:
        yield port


def write_stack(tmp_path: Path, port: int = 9, extra: str = "") -> Path:
    books = tmp_path / "books" / "web"
    (books / "recipes").mkdir(parents=True)
    (books / "metadata.yml").write_text("name: web\nversion: 0.1.0\n")
    (books / "recipes" / "default.py").write_text('file("/tmp/x", content="x")\n')
    (books / "recipes" / "broken.py").write_text('file("/tmp/y", content=undefined_name)\n')
    app = tmp_path / "app"
    app.mkdir()
    (app / "index.html").write_text("hi\n")
    path = tmp_path / "stack.yml"
    path.write_text(f"""\
stack:
  name: apitest
  provider: static
  ssh: {{user: root, host_key_policy: "off", connect_timeout: 5}}
  cookbooks: [{{path: books}}]
layers:
  web: {{recipes: {{setup: [web], configure: [web]}}}}
instances:
  web1: {{layers: [web], address: 127.0.0.1, port: {port}}}
  web2: {{layers: [web], address: 127.0.0.1, port: {port}}}
apps:
  site:
    layers: [web]
    source: {{type: directory, path: app}}
{extra}""")
    return path


class Recorder:
    """A plugin that records every run hook call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @hookimpl
    def runner_run_start(self, run) -> None:
        self.calls.append(("start", run.command))

    @hookimpl
    def runner_host_failed(self, host, error) -> None:
        self.calls.append(("host_failed", host))

    @hookimpl
    def runner_run_finish(self, run, report) -> None:
        self.calls.append(("finish", f"{run.command}:{','.join(report.failed_hosts)}"))


def test_open_reports_bad_input_with_its_place(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such stack file"):
        Session.open(tmp_path / "nope.yml")
    path = write_stack(tmp_path, extra="    colour: blue\n")
    with pytest.raises(UserError) as caught:
        Session.open(path)
    assert caught.value.location is not None and caught.value.location.line == 15
    assert str(caught.value).startswith(f"{path}:15:")


def test_selection_checks_names(tmp_path: Path) -> None:
    session = Session.open(write_stack(tmp_path))
    assert session.select() == ["web1", "web2"]
    assert session.select(instances=["web2"]) == ["web2"]
    with pytest.raises(UserError) as caught:
        session.select(instances=["web3"])
    assert "did you mean 'web1'?" in str(caught.value) or "did you mean 'web2'?" in str(caught.value)
    with pytest.raises(UserError, match="no app 'sit'"):
        session.deploy("sit")
    with pytest.raises(UserError, match="parallel must be 1 or more"):
        Session.open(write_stack(tmp_path / "b"), parallel=0)


def test_a_recipe_error_is_raised_before_any_host_is_touched(tmp_path: Path, mute_port: int) -> None:
    events: list = []
    session = Session.open(write_stack(tmp_path, mute_port), on_event=events.append)
    with pytest.raises(UserError, match="undefined_name"):
        session.execute_recipes(["web::broken"])
    assert not [e for e in events if isinstance(e, (RunStarted, Progress))]


def test_host_failures_are_in_the_report_and_the_hooks_fire_for_every_run(tmp_path: Path, mute_port: int) -> None:
    registry = Registry.load()
    recorder = Recorder()
    registry.pm.register(recorder, name="recorder")
    events: list = []
    session = Session.open(write_stack(tmp_path, mute_port), registry=registry, on_event=events.append)

    report = session.converge()
    assert not report.ok and [h.host for h in report.hosts] == ["web1", "web2"]
    assert all(h.error and not h.resources for h in report.hosts), [h.error for h in report.hosts]
    data = report.to_dict()
    assert data["command"] == "converge" and data["ok"] is False and json.loads(json.dumps(data)) == data
    assert isinstance(events[0], RunStarted) and events[0].hosts == ("web1", "web2")
    # one HostFinished per host, each emitted as its host finished (so in the order they finished)
    assert sorted(e.host for e in events if isinstance(e, HostFinished)) == ["web1", "web2"]
    assert isinstance(events[-1], RunFinished) and events[-1].ok is False

    undeploy, history = session.undeploy("site"), session.history("site")
    assert not undeploy.ok and [h.step for h in undeploy.hosts] == ["connect", "connect"]
    assert not history.ok and set(history.unreachable) == {"web1", "web2"}
    assert history.to_dict()["deployments"] == []
    for command in ("converge", "undeploy", "history"):
        assert ("start", command) in recorder.calls
        assert ("finish", f"{command}:web1,web2") in recorder.calls
    assert recorder.calls.count(("host_failed", "web1")) == 3


def test_host_group_map_keeps_order_and_its_bound() -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def work(name: str) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return name.upper()

    names = [f"h{i}" for i in range(12)]
    assert HostGroup([], parallel=3).map(work, names) == [n.upper() for n in names]
    assert most == 3
