"""Runs on an app's releases: deploy, rollback, undeploy and history, across the instances of its layers."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from difflib import get_close_matches
from typing import Any

from runner.api.base import SessionBase
from runner.api.reports import DeployReport, HistoryReport
from runner.balancers.api import BalancerError
from runner.cookbooks.resolve import load_cookbooks
from runner.deploy import hostscripts
from runner.deploy.host import DONE, FAILED_HOST, SKIPPED, HostDeploy, HostSteps, StepFailed
from runner.deploy.rollout import Rollout, log_fields, who
from runner.engine.host import HostOptions
from runner.engine.redact import Redactor
from runner.engine.wrap import Wrap
from runner.errors import HostError, UserError
from runner.events import Progress
from runner.lifecycle import EventCompiler, instance_views
from runner.model.lifecycle import DEPLOY, ROLLBACK, UNDEPLOY
from runner.model.stack import App, DeploySettings, Stack
from runner.providers.api import InstanceState, off_by_design
from runner.recipes import DeploymentView, mark_sensitive, secret_values
from runner.ssh.group import HostGroup
from runner.ssh.target import resolve_target
from runner.strategies.api import Strategy


def find_app(stack: Stack, name: str) -> App:
    if name in stack.apps:
        return stack.apps[name]
    close = get_close_matches(name, list(stack.apps), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"apps in {stack.path.name}: {', '.join(stack.apps) or 'none'}"
    raise UserError(f"no app {name!r} in {stack.path.name}", hint=hint)


def app_hosts(session: SessionBase, app: App, instances: Sequence[str] | None,
              layers: Sequence[str] | None) -> list[str]:
    """The selected instances that belong to one of the app's layers, in stack order, then the session's
    shard of them (which may pick none: nothing to do, not an error)."""
    hosts = [n for n in session.chosen(instances, layers)
             if set(session.stack.instances[n].layers) & set(app.layers)]
    if not hosts:
        raise UserError(f"app {app.name!r} has no instances to run on "
                        f"(its layers: {', '.join(app.layers) or 'none'})",
                        hint="add instances to those layers, or check --layer/--instance")
    return session.sharded(hosts)


def refuse_whole_fleet_strategy(session: SessionBase, command: str, strategy: str, chosen: Strategy) -> None:
    """A UserError when the session has a shard and the strategy orders the change across the whole app."""
    if chosen.needs_whole_fleet:
        session.refuse_shard(
            f"{command} with strategy {strategy!r}",
            "the strategy orders the change across all of the app's hosts in one run (needs_whole_fleet), "
            "so runs on parts of the fleet would each order only their part",
            "run it on one machine without --shard, or give --strategy all_at_once to deploy each shard "
            "on its own")


def deploy_settings(app: App, strategy: str | None = None, batch: int | str | None = None,
                    max_failures: int | None = None) -> DeploySettings:
    """The app's deploy settings with a run's overrides (checked like stack.yml's own)."""
    changes: dict[str, Any] = {}
    if strategy:
        changes["strategy"] = strategy
    if batch is not None:
        changes["batch"] = _checked_batch(batch)
    if max_failures is not None:
        if max_failures < 0:
            raise UserError("--max-failures must be 0 or more")
        changes["max_failures"] = max_failures
    return dataclasses.replace(app.deploy, **changes)


def _checked_batch(batch: int | str) -> int | str:
    text = str(batch)
    if text.endswith("%"):
        number = text[:-1]
        if not number.isdigit() or not 1 <= int(number) <= 100:
            raise UserError(f"--batch {text}: a percentage must be between 1% and 100%")
        return text
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"--batch {text}: expected a count (1 or more) or a percentage such as 30%")
    return int(text)


def split_online(hosts: Sequence[str], states: Sequence[InstanceState],
                 stack: Stack) -> tuple[list[str], dict[str, str]]:
    """The hosts that are online, and why each of the others is not (time- or load-based ones at rest
    are left out of both: runner watch keeps them down)."""
    by_name = {s.name: s for s in states}
    online, offline = [], {}
    for host in hosts:
        state = by_name.get(host)
        if state is not None and host in stack.instances and off_by_design(
                stack.instances[host], state.status):
            continue
        if state is None or not state.online:
            offline[host] = f"instance is {state.status if state else 'unknown'}"
        else:
            online.append(host)
    return online, offline


def _group(session: SessionBase, hosts: Sequence[str], states: Sequence[InstanceState]) -> HostGroup:
    by_name = {s.name: s for s in states}
    return HostGroup([resolve_target(session.stack, by_name[h].host) for h in hosts], session.parallel)


def _compiler(session: SessionBase, states: Sequence[InstanceState],
              custom_json: Mapping[str, Any] | None) -> EventCompiler:
    stack = session.stack
    return EventCompiler(stack, session.registry, load_cookbooks(stack, session.registry),
                         instance_views(stack, states), dict(custom_json or {}))


def _logger(session: SessionBase, redact: Redactor) -> Callable[[str, str], None]:
    def log(host: str, line: str) -> None:
        session.emit(Progress(host or None, redact(line)))
    return log


def deploy(session: SessionBase, command: str, app_name: str, *, strategy: str | None = None,
           batch: int | str | None = None, max_failures: int | None = None,
           instances: Sequence[str] | None = None, layers: Sequence[str] | None = None,
           custom_json: Mapping[str, Any] | None = None) -> DeployReport:
    """``deploy`` (a new release) or ``rollback`` (one back) of an app, driven by its strategy."""
    from runner.deploy.balancer import open_balancer
    from runner.sources.api import prepare_source

    if command not in (DEPLOY, ROLLBACK):
        raise ValueError(f"not a deploy command: {command!r}")
    stack, registry = session.stack, session.registry
    app = find_app(stack, app_name)
    settings = deploy_settings(app, strategy, batch, max_failures)
    chosen = registry.strategy(settings.strategy)()
    refuse_whole_fleet_strategy(session, command, settings.strategy, chosen)
    hosts = app_hosts(session, app, instances, layers)
    if not hosts:  # the shard picked none of the app's hosts
        return DeployReport(command, stack.name, app.name, strategy=settings.strategy)
    states = session.states()
    compiler = _compiler(session, states, custom_json)
    redact = Redactor(secret_values(stack))
    for host in hosts:  # recipe and template errors are the user's: said before any host is touched
        view = DeploymentView(command, app.name, "00000000000000")
        mark_sensitive(compiler.deployment(stack.instances[host], DEPLOY, view), set(redact.secrets))
    source = None
    if command == DEPLOY:
        cache = stack.state_dir / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        source = prepare_source(app, stack, cache, registry.app_sources)
    online, offline = split_online(hosts, states, session.stack)
    balancer, unreachable = None, None
    if chosen.uses_balancer or chosen.needs_balancer:
        try:
            balancer = open_balancer(stack, registry, dataclasses.replace(app, deploy=settings), states)
        except BalancerError as exc:  # an lb instance that cannot be reached: the run fails before any app host
            unreachable = f"cannot open the load balancer: {redact(str(exc))}; no app host was touched"
    if chosen.needs_balancer and settings.load_balancer is None:
        raise UserError(f"strategy {settings.strategy!r} needs a load balancer, and app {app.name!r} has none",
                        hint="give the stack an lb layer, or set apps.<app>.deploy.load_balancer")
    log = _logger(session, redact)
    info = session.started(command, hosts, app=app.name)
    started = time.monotonic()
    if unreachable is not None:
        log("", f"stopped: {unreachable}")
        report = DeployReport(command, stack.name, app.name,
                              [HostDeploy(h, status=SKIPPED, error=f"not deployed: {unreachable}") for h in hosts],
                              time.monotonic() - started, settings.strategy, stopped=unreachable, redact=redact)
        session.finished(info, report, report.seconds)
        return report
    rollout = Rollout(stack, app, command, settings, online, _group(session, online, states), compiler, redact,
                      log, verbose=session.verbose, balancer=balancer, source=source)
    for host, why in offline.items():
        rollout.states[host] = HostDeploy(host, status=FAILED_HOST, step="connect", error=why)
    try:
        rollout.open()
        if rollout.hosts:
            if command == DEPLOY:
                assert source is not None
                release = rollout.choose_release()
                log("", f"release {release} from {source.description} with strategy {settings.strategy}")
                chosen.deploy(rollout)
            else:
                log("", f"rolling back one release with strategy {settings.strategy}")
                chosen.rollback(rollout)
            rollout.finish()
        drained = rollout.still_drained()  # while the balancer's connections still say how to reach it
    finally:
        rollout.close()
        if balancer is not None:
            lb_commands = {name: conn.commands_run for name, conn in balancer.connections.items()}
            balancer.close()
    report = DeployReport(command, stack.name, app.name, [rollout.states[h] for h in hosts],
                          time.monotonic() - started, settings.strategy, rollout.release, rollout.stopped,
                          rollout.batches, rollout.timings, redact, drained,
                          balancer_commands=lb_commands if balancer is not None else {})
    session.finished(info, report, report.seconds)
    return report


def _on_each_host(session: SessionBase, hosts: Sequence[str], states: Sequence[InstanceState],
                  work: Callable[[HostDeploy], None]) -> list[HostDeploy]:
    """Connect to each host (in parallel) and call ``work(state)``; failures are recorded, in ``hosts`` order."""
    online, offline = split_online(hosts, states, session.stack)
    results = {h: HostDeploy(h, status=FAILED_HOST, step="connect", error=why) for h, why in offline.items()}
    group = _group(session, online, states)

    def one(host: str) -> HostDeploy:
        state = HostDeploy(host)
        started = time.monotonic()
        try:
            state.conn = group.connect(host)
            work(state)
            state.status = DONE
        except HostError as exc:
            state.status, state.step, state.error = FAILED_HOST, "connect", exc.message
        except StepFailed as exc:
            state.status, state.step, state.error, state.output = FAILED_HOST, exc.step, exc.message, exc.output
        finally:
            group.release(host)
            state.seconds = time.monotonic() - started
        return state

    with group:
        for state in group.map(one, online):
            results[state.host] = state
    return [results[h] for h in hosts]


def undeploy(session: SessionBase, app_name: str, *, instances: Sequence[str] | None = None,
             layers: Sequence[str] | None = None, custom_json: Mapping[str, Any] | None = None) -> DeployReport:
    """The app's undeploy recipes on each of its hosts, then ``/srv/<app>`` removed (its log kept aside)."""
    stack = session.stack
    app = find_app(stack, app_name)
    hosts = app_hosts(session, app, instances, layers)
    if not hosts:  # the shard picked none of the app's hosts
        return DeployReport(UNDEPLOY, stack.name, app.name, strategy=app.deploy.strategy)
    states = session.states()
    compiler = _compiler(session, states, custom_json)
    redact = Redactor(secret_values(stack))
    log = _logger(session, redact)
    resources = {}
    for host in hosts:
        resources[host] = compiler.deployment(stack.instances[host], UNDEPLOY, DeploymentView(UNDEPLOY, app.name))
        mark_sensitive(resources[host], set(redact.secrets))
    options = HostOptions(verbose=session.verbose, log=log, redact=redact)
    deployment_id, by = str(uuid.uuid4()), who()

    def work(state: HostDeploy) -> None:
        steps = HostSteps(state, app.name, redact, log, session.verbose)
        state.previous = steps.lock_and_inspect().current
        log(state.host, "running the undeploy recipes, then removing /srv/" + app.name)
        entry = {**log_fields(UNDEPLOY, deployment_id, app.name, state.host, app.deploy.strategy, by),
                 "release": None, "previous": state.previous, "result": "ok"}
        # the removal in the recipes' apply command (alone when they change nothing)
        steps.change(resources[state.host], options,
                     Wrap(after=lambda output: hostscripts.undeploy_script(app.name, entry)), "undeploy")

    info = session.started(UNDEPLOY, hosts, app=app.name)
    started = time.monotonic()
    results = _on_each_host(session, hosts, states, work)
    report = DeployReport(UNDEPLOY, stack.name, app.name, results, time.monotonic() - started,
                          strategy=app.deploy.strategy, redact=redact)
    session.finished(info, report, report.seconds)
    return report


def merge_history(lines_by_host: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per deployment (same deployment id): time, command, release, revision, hosts, result.

    Rows are in time order; runs within the same second keep the order of the
    hosts' logs (appended as the runs ended), not the order of their ids.
    """
    runs: dict[str, dict[str, Any]] = {}
    position: dict[str, int] = {}  # key -> the latest line index at which a host logged it
    for host, text in lines_by_host.items():
        for index, line in enumerate(text.splitlines()):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(entry, dict):
                continue
            key = str(entry.get("deployment") or f"{entry.get('time')}:{entry.get('command')}")
            position[key] = max(position.get(key, index), index)
            run = runs.setdefault(key, {"time": entry.get("time") or "", "command": entry.get("command") or "?",
                                        "release": entry.get("release"), "revision": entry.get("revision"),
                                        "hosts": [], "failed": [], "deployment": key})
            run["time"] = min(run["time"], entry.get("time") or run["time"]) if run["time"] else entry.get("time")
            run["release"] = run["release"] or entry.get("release")
            run["revision"] = run["revision"] or entry.get("revision")
            who = entry.get("host") or host
            run["hosts"].append(who)
            if entry.get("result") != "ok":
                run["failed"].append(who)
    rows = sorted(runs.values(), key=lambda r: (r["time"] or "", position[r["deployment"]], r["deployment"]))
    for row in rows:
        row["hosts"] = sorted(set(row["hosts"]))
        row["failed"] = sorted(set(row["failed"]))
        row["result"] = "ok" if not row["failed"] else f"failed on {', '.join(row['failed'])}"
    return rows


def history(session: SessionBase, app_name: str, *, instances: Sequence[str] | None = None,
            layers: Sequence[str] | None = None) -> HistoryReport:
    """Read every host's deployments.log of the app and merge them into one row per run."""
    stack = session.stack
    app = find_app(stack, app_name)
    hosts = app_hosts(session, app, instances, layers)
    if not hosts:  # the shard picked none of the app's hosts
        return HistoryReport(app.name)
    states = session.states()
    redact = Redactor(secret_values(stack))
    texts: dict[str, str] = {}

    def work(state: HostDeploy) -> None:
        texts[state.host] = HostSteps(state, app.name, redact, lambda h, m: None).history()

    info = session.started("history", hosts, app=app.name)
    started = time.monotonic()
    results = _on_each_host(session, hosts, states, work)
    report = HistoryReport(app.name, merge_history(texts),
                           {s.host: s.error or "unreachable" for s in results if s.status != DONE})
    session.finished(info, report, time.monotonic() - started)
    return report
