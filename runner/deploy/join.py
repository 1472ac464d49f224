"""Deploy apps to an instance that joins: the deploy that ends an instance's setup.

In OpsWorks an instance's setup ends with a deploy of every app on its layers,
but a new instance takes whatever the app's source holds now while the
others keep running what they were deployed with. Here a joining instance
gets the release the app's other instances run:

1. the app's other online instances that were set up (they have the setup
   marker, so instances being set up in this same run do not count) are read
   over SSH: where ``current`` points and its .release.json;
2. the release most of them run is chosen (:func:`~runner.deploy.releases.fleet_release`);
3. it is staged under the same id with the same .release.json: from the local
   source when that still yields the recorded checksum, otherwise copied from
   an instance that runs it (a tar of its release directory, read over that
   instance's connection);
4. an app deployed nowhere yet is deployed from its source as a new release.

What the fleet runs is read once per app per run, so every instance joining
in one run gets the same release. The deploy itself is a
:class:`~runner.deploy.rollout.Rollout` of one host over the connection the
setup already holds: lock, inspect, stage, switch with before_restart, the
layers' deploy recipes, after_restart, the health check, a deployments.log line.
"""

from __future__ import annotations

import datetime as _dt
import shlex
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from runner.deploy import hostscripts
from runner.deploy.host import DONE, StepFailed
from runner.deploy.releases import (
    DEPLOYED,
    STAGED,
    HostReleases,
    fleet_release,
    next_release_id,
    parse_inspect,
)
from runner.deploy.rollout import Rollout
from runner.engine.host import AfterSetup, HostOptions
from runner.engine.outcome import CHANGED, FAILED, OK, HostOutcome, ResourceOutcome
from runner.engine.wire import run_script
from runner.errors import HostError, UserError
from runner.lifecycle import EventCompiler, setup_marker
from runner.model.lifecycle import DEPLOY, SETUP
from runner.model.stack import App, Stack
from runner.providers.api import InstanceState
from runner.recipes import DeploymentView, mark_sensitive
from runner.resources.api import Change
from runner.sources.api import PreparedSource, prepare_source
from runner.ssh import pool
from runner.ssh.api import Transport as Connection
from runner.ssh.group import HostGroup
from runner.ssh.pool import open_connection
from runner.ssh.target import resolve_target

SET_UP = "@@setup"
#: what a peer said: its releases (None: it did not answer), whether it was set up, why it did not answer
PeerRead = tuple[HostReleases | None, bool, str]
CAUSE = "setup-deploy"
PLACEHOLDER_RELEASE = "00000000000000"


def setup_deploys(stack: Stack, compiler: EventCompiler, states: Sequence[InstanceState],
                  names: Sequence[str]) -> dict[str, AfterSetup]:
    """For each of ``names`` whose layers carry apps: what its setup runs before writing its marker.

    Called once per run (see ``runner.lifecycle.plan_run``); touches no host.
    The deploy recipes are compiled here for each such instance and app, so a
    recipe error is the user's, said before any host is touched.
    """
    fleet = _Fleet(stack, compiler, states)
    out: dict[str, AfterSetup] = {}
    for name in names:
        inst = stack.instances[name]
        apps = compiler.apps_of(inst)
        if not apps:
            continue
        for app in apps:
            compiler.deployment(inst, DEPLOY, DeploymentView(DEPLOY, app, PLACEHOLDER_RELEASE))
        out[name] = partial(fleet.join, name, apps)
    return out


@dataclass(frozen=True)
class _Chosen:
    """What a joining host stages for one app (the same for every host joining in the run)."""

    release: str
    meta: dict[str, Any] | None  # the fleet's .release.json; None: a new release from the source
    source: PreparedSource  # its payload (or remote fetch) fills the release directory
    origin: str  # for the report: where the content comes from
    deployment: str  # one deployment id for every host joining in the run (`runner history`: one row)


class _Fleet:
    """One run's view of the apps' fleets: what each app's instances run, read once per app."""

    def __init__(self, stack: Stack, compiler: EventCompiler, states: Sequence[InstanceState]):
        self.stack, self.compiler = stack, compiler
        self.states = {s.name: s for s in states}
        self.started_at = _dt.datetime.now(_dt.UTC)
        self._locks = {name: threading.Lock() for name in stack.apps}
        self._chosen: dict[str, _Chosen | HostError] = {}

    # -- what the fleet runs -------------------------------------------------------

    def _peers(self, app: App) -> list[str]:
        return [name for name, inst in self.stack.instances.items()
                if set(inst.layers) & set(app.layers) and name in self.states and self.states[name].online]

    def _read(self, app: App, peers: Sequence[str], options: HostOptions) -> dict[str, PeerRead]:
        """Per peer: (its releases or None when unreachable, whether it was set up, why unreachable)."""
        marker = shlex.quote(setup_marker(self.stack))
        script = (hostscripts.inspect_script(app.name) + f"if [ -s {marker} ]; then echo {SET_UP}; fi\n").encode()
        targets = [resolve_target(self.stack, self.states[p].host) for p in peers]
        with HostGroup(targets) as group:
            results = group.each(lambda conn: run_script(conn, script), keep_open=False)
        read: dict[str, PeerRead] = {}
        for peer in peers:
            if peer in results.failed:
                read[peer] = (None, False, options.redact(results.failed[peer].message))
                continue
            result = results.succeeded[peer]
            if result.exit_status != 0:
                read[peer] = (None, False, f"reading its releases exited with {result.exit_status}")
                continue
            text = result.stdout.decode("utf-8", "replace")
            read[peer] = (parse_inspect(text), SET_UP in text.split(), "")
        return read

    def _copy(self, app: App, host: str, release: str, options: HostOptions) -> bytes:
        """A tar.gz of ``release`` as ``host`` has it, for the joining hosts' stage step."""
        conn = open_connection(resolve_target(self.stack, self.states[host].host))
        try:
            result = run_script(conn, hostscripts.release_tar_script(app.name, release).encode())
        finally:
            pool.put(conn)
        if result.exit_status != 0:
            detail = options.redact(result.stderr.decode("utf-8", "replace").strip()[-500:])
            raise HostError(host, f"copying release {release} of {app.name} from {host} failed "
                            f"(exit status {result.exit_status}): {detail}", CAUSE)
        return result.stdout

    def _source(self, app: App) -> PreparedSource:
        cache = self.stack.state_dir / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        return prepare_source(app, self.stack, cache, self.compiler.registry.app_sources)

    def choose(self, app: App, joining: str, options: HostOptions) -> _Chosen:
        """What joining hosts get for ``app``: found by the first host that asks, then kept for the run."""
        with self._locks[app.name]:
            if app.name not in self._chosen:
                try:
                    self._chosen[app.name] = self._choose(app, joining, options)
                except HostError as exc:
                    self._chosen[app.name] = exc
                except UserError as exc:
                    self._chosen[app.name] = HostError(joining, f"app {app.name}'s source: {exc}", CAUSE)
            chosen = self._chosen[app.name]
        if isinstance(chosen, HostError):
            raise HostError(joining, chosen.message, chosen.cause)
        return chosen

    def _choose(self, app: App, joining: str, options: HostOptions) -> _Chosen:
        peers = [p for p in self._peers(app) if p != joining]
        say = partial(options.log, joining)
        read: dict[str, PeerRead] = {}
        if peers:
            say(f"reading which release of {app.name} runs on {', '.join(peers)}")
            read = self._read(app, peers, options)
        answered = {host: releases for host, (releases, _, _) in read.items() if releases is not None}
        for host, (releases, _, why) in read.items():
            if releases is None:
                say(f"warning: {host} does not say which release of {app.name} it runs: {why}")
        if peers and not answered:
            raise HostError(joining, f"cannot tell which release of {app.name} its other instances run: "
                            f"none of {', '.join(peers)} answered", CAUSE)
        set_up = {host: answered[host] for host, (releases, was_set_up, _) in read.items() if releases and was_set_up}
        fleet = fleet_release(set_up) or fleet_release(answered)
        if fleet is None:  # deployed nowhere yet: a new release from the source, as `runner deploy` makes
            source = self._source(app)
            existing = [r.id for releases in answered.values() for r in releases.releases]
            release = next_release_id(self.started_at, existing)
            say(f"{app.name} runs nowhere yet: new release {release} from {source.description}")
            return _Chosen(release, None, source, f"new release from {source.description}", str(uuid.uuid4()))
        release, meta = fleet.release.id, dict(fleet.release.meta)
        say(f"{app.name}: its instances run release {release} ({', '.join(fleet.hosts)})")
        local = None
        try:
            local = self._source(app)
        except UserError as exc:
            say(f"the local source of {app.name} cannot be prepared ({exc}): copying the release instead")
        if local is not None and local.payload is not None and local.checksum \
                and local.checksum == meta.get("checksum"):
            return _Chosen(release, meta, replace(local, remote_script=None), "from the local source (same checksum)",
                           str(uuid.uuid4()))
        peer = fleet.hosts[0]
        say(f"copying release {release} of {app.name} from {peer}")
        payload = self._copy(app, peer, release, options)
        description = str(meta.get("source") or f"release {release} of {peer}")
        copied = _copied_source(description, meta, payload)
        return _Chosen(release, meta, copied, f"copied from {peer}", str(uuid.uuid4()))

    # -- deploying to a joining host --------------------------------------------------

    def join(self, host: str, apps: Sequence[str], conn: Connection, options: HostOptions,
             outcome: HostOutcome) -> None:
        """Deploy each of ``apps`` to ``host`` over ``conn`` (the engine's after_setup)."""
        for name in apps:
            app = self.stack.apps[name]
            key = f"deploy[{name}]"
            try:
                chosen = self.choose(app, host, options)
                summary = _JoinDeployment(self, app, host, conn, options, chosen).run()
            except _JoinFailed as exc:
                outcome.resources.append(ResourceOutcome(key, FAILED, output=exc.output))
                raise HostError(host, f"setup's deploy of app {name} failed at step {exc.step}: {exc.message}",
                                CAUSE) from None
            except HostError as exc:
                outcome.resources.append(ResourceOutcome(key, FAILED, output=exc.message))
                raise HostError(host, f"setup's deploy of app {name} failed: {exc.message}", CAUSE) from None
            if summary is None:
                outcome.resources.append(ResourceOutcome(key, OK))
            else:
                outcome.resources.append(ResourceOutcome(key, CHANGED, [Change(summary)]))
                options.on_changed(host, key, summary)


def _copied_source(description: str, meta: Mapping[str, Any], payload: bytes) -> PreparedSource:
    return PreparedSource("copy", description, meta.get("revision"), meta.get("checksum"), payload, None)


class _JoinFailed(Exception):
    def __init__(self, step: str, message: str, output: str = ""):
        super().__init__(f"{step}: {message}")
        self.step, self.message, self.output = step, message, output


class _JoinDeployment(Rollout):
    """A deploy of one app to one joining host, over the connection its setup holds, at a chosen release."""

    def __init__(self, fleet: _Fleet, app: App, host: str, conn: Connection, options: HostOptions,
                 chosen: _Chosen):
        group = HostGroup([conn.target], parallel=1)
        group.adopt(conn)
        super().__init__(fleet.stack, app, DEPLOY, app.deploy, [host], group, fleet.compiler, options.redact,
                         options.log, verbose=options.verbose, source=chosen.source)
        self.host, self.chosen = host, chosen
        self.release = chosen.release
        self.deployment_id, self.started_at = chosen.deployment, fleet.started_at  # the same for every joining host
        self.states[host].conn = conn

    def release_meta(self) -> dict[str, Any]:
        if self.chosen.meta is None:
            return super().release_meta()
        return {**self.chosen.meta, "status": STAGED}  # the fleet's own .release.json: same id, same fields

    def log_entry(self, host: str, status: str | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        return {**super().log_entry(host, status, meta), "command": SETUP, "origin": self.chosen.origin}

    def run(self) -> str | None:
        """Deploy; returns what changed (None: the host already ran the release). Raises _JoinFailed."""
        host, rid, state, steps = self.host, self.release, self.states[self.host], self.steps[self.host]
        try:
            releases = steps.lock_and_inspect()
            if releases.current == rid:  # set up before but not marked: converge its deploy recipes
                self.log_line(host, f"already runs release {rid} of {self.app.name}: running the deploy recipes")
                view = DeploymentView(DEPLOY, self.app.name, rid, args={"deployment_id": self.deployment_id})
                resources = self.compiler.deployment(self.stack.instances[host], DEPLOY, view)
                mark_sensitive(resources, set(self.redact.secrets))
                steps.recipes(resources, self.options)
                return None
            if releases.get(rid) is not None:  # a leftover of an earlier attempt: staged again from scratch
                steps.run("remove", hostscripts.remove_releases_script(self.app.name, [rid]))
            self.log_line(host, f"deploying release {rid} of {self.app.name} ({self.chosen.origin})")
            self.step([host], undo_batch=False, balancer=False)
            self.finish()
        except StepFailed as exc:
            raise _JoinFailed(exc.step, exc.message, exc.output) from None
        finally:
            if state.lock is not None:
                state.lock.close()
                state.lock = None
        if state.status != DONE:
            raise _JoinFailed(state.step or "deploy", state.error or "the deploy failed", state.output)
        if state.meta.get("status") != DEPLOYED:
            raise _JoinFailed("deploy", f"release {rid} was not deployed")
        return f"release {rid} ({self.chosen.origin})"
