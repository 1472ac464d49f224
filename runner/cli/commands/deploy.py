"""``runner deploy|rollback|undeploy|history APP``: releases of an app on the hosts of its layers."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
import uuid
from collections.abc import Sequence
from typing import IO, Any

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.options import command_json, load_stack, select_instances
from runner.cli.table import print_table
from runner.deploy.host import HostDeploy, HostSteps, StepFailed
from runner.deploy.rollout import Deployment, log_fields, who
from runner.engine.host import HostOptions
from runner.engine.redact import Redactor
from runner.engine.report import LivePrinter
from runner.engine.run import DEFAULT_PARALLEL
from runner.errors import HostError, UserError
from runner.events import HostResult, RunInfo, RunReport
from runner.lifecycle import EventCompiler, instance_views
from runner.model.stack import App, DeploySettings, Stack
from runner.providers.api import InstanceState
from runner.recipes import DeploymentView, mark_sensitive, secret_values
from runner.ssh.connection import Connection
from runner.ssh.target import resolve_target

TAIL_LINES = 20


def find_app(stack: Stack, name: str) -> App:
    if name in stack.apps:
        return stack.apps[name]
    from difflib import get_close_matches

    close = get_close_matches(name, list(stack.apps), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"apps in {stack.path.name}: {', '.join(stack.apps) or 'none'}"
    raise UserError(f"no app {name!r} in {stack.path.name}", hint=hint)


def app_hosts(stack: Stack, app: App, args: argparse.Namespace) -> list[str]:
    """The selected instances that belong to one of the app's layers, in stack order."""
    chosen = select_instances(stack, args.layer, args.instance)
    hosts = [n for n in chosen if set(stack.instances[n].layers) & set(app.layers)]
    if not hosts:
        raise UserError(f"app {app.name!r} has no instances to run on "
                        f"(its layers: {', '.join(app.layers) or 'none'})",
                        hint="add instances to those layers, or check --layer/--instance")
    return hosts


class AppCommand(Command):
    """Shared parts: the app argument, the stack, the compiler, the hosts' states and targets."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("app", help="the app's name in stack.yml")
        parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, metavar="N",
                            help=f"hosts at a time (default {DEFAULT_PARALLEL})")

    def prepare(self, args: argparse.Namespace, ctx: CommandContext):
        stack = load_stack(args, ctx.registry)
        app = find_app(stack, args.app)
        hosts = app_hosts(stack, app, args)
        states = ctx.registry.provider(stack.provider)(stack).status(list(stack.instances))
        from runner.cookbooks import CookbookSet

        compiler = EventCompiler(stack, ctx.registry, CookbookSet.from_sources(list(stack.cookbooks)),
                                 instance_views(stack, states), command_json(args))
        return stack, app, hosts, states, compiler


def settings_for(app: App, args: argparse.Namespace) -> DeploySettings:
    """The app's deploy settings with the command line's overrides."""
    settings = app.deploy
    changes: dict[str, Any] = {}
    if getattr(args, "strategy", None):
        changes["strategy"] = args.strategy
    if getattr(args, "batch", None):
        batch = args.batch
        if batch.endswith("%"):
            number = batch[:-1]
            if not number.isdigit() or not 1 <= int(number) <= 100:
                raise UserError(f"--batch {batch}: a percentage must be between 1% and 100%")
        elif not batch.isdigit() or int(batch) < 1:
            raise UserError(f"--batch {batch}: expected a count (1 or more) or a percentage such as 30%")
        else:
            batch = int(batch)
        changes["batch"] = batch
    if getattr(args, "max_failures", None) is not None:
        if args.max_failures < 0:
            raise UserError("--max-failures must be 0 or more")
        changes["max_failures"] = args.max_failures
    return dataclasses.replace(settings, **changes)


def split_online(hosts: Sequence[str], states: Sequence[InstanceState]) -> tuple[list[str], dict[str, str]]:
    by_name = {s.name: s for s in states}
    online, offline = [], {}
    for host in hosts:
        state = by_name.get(host)
        if state is None or not state.online:
            offline[host] = f"instance is {state.status if state else 'unknown'}"
        else:
            online.append(host)
    return online, offline


# -- reports ---------------------------------------------------------------------------


def _result(state: HostDeploy) -> str:
    return {"done": "ok", "failed": "FAILED", "reverted": "PUT BACK", "skipped": "skipped",
            "pending": "unchanged"}.get(state.status, state.status)


def print_deploy_summary(out: IO[str], title: str, states: Sequence[HostDeploy]) -> None:
    out.write(f"\n{title}\n")
    rows = [(s.host, _result(s), s.release or "-", s.previous or "-", s.step or "-", f"{s.seconds:.1f}",
             f"{s.health_seconds:.1f}", s.remote_commands) for s in states]
    print_table(out, ("HOST", "RESULT", "RELEASE", "PREVIOUS", "FAILED STEP", "SECONDS", "HEALTH S", "COMMANDS"),
                rows)
    for s in states:
        if s.status in ("failed", "reverted") and s.error:
            out.write(f"\n  {s.host}: {s.step}: {s.error}\n")
            if s.output.strip():
                lines = s.output.rstrip("\n").split("\n")
                if len(lines) > TAIL_LINES:
                    lines = [f"... ({len(lines) - TAIL_LINES} lines above)"] + lines[-TAIL_LINES:]
                out.write("\n".join("      " + line for line in lines) + "\n")


def deploy_json(command: str, stack: str, app: str, states: Sequence[HostDeploy], seconds: float,
                extra: dict[str, Any]) -> str:
    hosts = [{"host": s.host, "result": _result(s).lower().replace(" ", "_"), "ok": s.status == "done",
              "release": s.release, "previous": s.previous, "step": s.step, "error": s.error,
              "output": s.output or None, "seconds": round(s.seconds, 3),
              "health_seconds": round(s.health_seconds, 3), "remote_commands": s.remote_commands} for s in states]
    return json.dumps({"command": command, "stack": stack, "app": app, "seconds": round(seconds, 3),
                       **extra, "hosts": hosts}, indent=2) + "\n"


# -- deploy and rollback ---------------------------------------------------------------


class DeployCommand(AppCommand):
    name = "deploy"
    help = "deploy an app to the instances of its layers, with its strategy"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--strategy", help="override deploy.strategy (all_at_once, rolling, blue_green, ...)")
        parser.add_argument("--batch", help="override deploy.batch: a count or a percentage such as 30%%")
        parser.add_argument("--max-failures", type=int, default=None, help="override deploy.max_failures")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        registry = ctx.registry
        stack, app, hosts, states, compiler = self.prepare(args, ctx)
        settings = settings_for(app, args)
        strategy = registry.strategy(settings.strategy)()
        redact = Redactor(secret_values(stack))
        for host in hosts:  # recipe and template errors are the user's: said before any host is touched
            view = DeploymentView(self.name, app.name, "00000000000000")
            mark_sensitive(compiler.deployment(stack.instances[host], "deploy", view), set(redact.secrets))
        source = None
        if self.name == "deploy":
            from runner.sources.api import prepare_source

            cache = stack.state_dir / "cache"
            cache.mkdir(parents=True, exist_ok=True)
            source = prepare_source(app, stack, cache, registry.app_sources)
        online, offline = split_online(hosts, states)
        by_name = {s.name: s for s in states}
        targets = {h: resolve_target(stack, by_name[h].host) for h in online}
        live = LivePrinter(ctx.err)
        balancer = open_balancer_for(stack, registry, app, settings, states, strategy)

        def log(host: str, line: str) -> None:
            live(host or app.name, redact(line))

        info = RunInfo(self.name, stack.name, tuple(hosts), time.time())
        registry.notify("runner_run_start", run=info)
        started = time.monotonic()
        rollout = Deployment(stack, app, self.name, settings, online, targets, compiler, redact, log,
                             verbose=args.verbose, parallel=args.parallel, balancer=balancer, source=source)
        for host, why in offline.items():
            rollout.states[host] = HostDeploy(host, status="failed", step="connect", error=why)
        try:
            rollout.open()
            if rollout.hosts:
                if self.name == "deploy":
                    release = rollout.choose_release()
                    log("", f"release {release} from {source.description} with strategy {settings.strategy}")
                    strategy.deploy(rollout)
                else:
                    log("", f"rolling back one release with strategy {settings.strategy}")
                    strategy.rollback(rollout)
                rollout.finish()
        finally:
            rollout.close()
            if balancer is not None:
                balancer.close()
        seconds = time.monotonic() - started
        results = [rollout.states[h] for h in hosts]
        report_failures(registry, results)
        registry.notify("runner_run_finish", run=info, report=RunReport(info, tuple(
            HostResult(s.host, 1 if s.status == "done" else 0, 0, 1 if s.failed else 0, s.seconds, s.error,
                       s.remote_commands) for s in results)))
        title = f"{self.name} of {app.name} ({settings.strategy}): {seconds:.1f} s"
        if rollout.release and self.name == "deploy":
            title += f", release {rollout.release}"
        if rollout.stopped:
            title += f"; stopped: {rollout.stopped}"
        if args.format == "json":
            extra = {"release": rollout.release, "strategy": settings.strategy, "stopped": rollout.stopped,
                     "batches": [dataclasses.asdict(b) for b in rollout.batches], "timings": rollout.timings}
            ctx.out.write(redact(deploy_json(self.name, stack.name, app.name, results, seconds, extra)))
        else:
            print_deploy_summary(ctx.out, redact(title), results)
        return 1 if any(s.status not in ("done", "pending") for s in results) else 0


def report_failures(registry, results: Sequence[HostDeploy]) -> None:
    for s in results:
        if s.status in ("failed", "reverted"):
            registry.notify("runner_host_failed", host=s.host, error=f"{s.step}: {s.error}", result=None)


def open_balancer_for(stack: Stack, registry, app: App, settings: DeploySettings, states, strategy):
    """The app's load balancer, opened; None when it has none (an error when the strategy needs one)."""
    from runner.balancers.connect import open_balancer

    balancer = open_balancer(stack, registry, dataclasses.replace(app, deploy=settings), states)
    if balancer is None and strategy.needs_balancer:
        raise UserError(f"strategy {settings.strategy!r} needs a load balancer, and app {app.name!r} has none",
                        hint="give the stack an lb layer, or set apps.<app>.deploy.load_balancer")
    return balancer


class RollbackCommand(DeployCommand):
    name = "rollback"
    help = "go back one release on the app's instances (blue_green: switch back to the idle colour)"


# -- undeploy and history ----------------------------------------------------------------


def _each_host(stack: Stack, hosts: Sequence[str], states, parallel: int, work) -> dict[str, HostDeploy]:
    """Connect to each host (in parallel) and call ``work(steps, state)``; failures are recorded."""
    from concurrent.futures import ThreadPoolExecutor

    online, offline = split_online(hosts, states)
    by_name = {s.name: s for s in states}
    results = {h: HostDeploy(h, status="failed", step="connect", error=why) for h, why in offline.items()}

    def one(host: str) -> HostDeploy:
        state = HostDeploy(host)
        started = time.monotonic()
        conn = Connection(resolve_target(stack, by_name[host].host))
        state.conn = conn
        try:
            conn.open()
            work(state)
            state.status = "done"
        except HostError as exc:
            state.status, state.step, state.error = "failed", "connect", exc.message
        except StepFailed as exc:
            state.status, state.step, state.error, state.output = "failed", exc.step, exc.message, exc.output
        finally:
            conn.close()
            state.seconds = time.monotonic() - started
        return state

    if online:
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(online)))) as pool:
            for state in pool.map(one, online):
                results[state.host] = state
    return {h: results[h] for h in hosts}


class UndeployCommand(AppCommand):
    name = "undeploy"
    help = "run the undeploy recipes and remove /srv/<app> from the app's instances"

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        stack, app, hosts, states, compiler = self.prepare(args, ctx)
        redact = Redactor(secret_values(stack))
        live = LivePrinter(ctx.err)

        def log(host: str, line: str) -> None:
            live(host, redact(line))

        resources = {}
        for host in hosts:
            view = DeploymentView("undeploy", app.name)
            resources[host] = compiler.deployment(stack.instances[host], "undeploy", view)
            mark_sensitive(resources[host], set(redact.secrets))
        options = HostOptions(verbose=args.verbose, log=log, redact=redact)
        deployment_id, by = str(uuid.uuid4()), who()

        def work(state: HostDeploy) -> None:
            steps = HostSteps(state, app.name, redact, log, args.verbose)
            steps.lock()
            state.previous = steps.inspect().current
            log(state.host, "running the undeploy recipes")
            steps.recipes(resources[state.host], options)
            entry = {**log_fields("undeploy", deployment_id, app.name, state.host, app.deploy.strategy, by),
                     "release": None, "previous": state.previous, "result": "ok"}
            log(state.host, f"removing /srv/{app.name}")
            steps.undeploy(entry)

        started = time.monotonic()
        results = _each_host(stack, hosts, states, args.parallel, work)
        seconds = time.monotonic() - started
        report_failures(ctx.registry, list(results.values()))
        if args.format == "json":
            ctx.out.write(redact(deploy_json(self.name, stack.name, app.name, list(results.values()), seconds, {})))
        else:
            print_deploy_summary(ctx.out, f"undeploy of {app.name}: {seconds:.1f} s", list(results.values()))
        return 1 if any(s.status != "done" for s in results.values()) else 0


def merge_history(lines_by_host: dict[str, str]) -> list[dict[str, Any]]:
    """One row per deployment (same deployment id): time, command, release, revision, hosts, result."""
    runs: dict[str, dict[str, Any]] = {}
    for host, text in lines_by_host.items():
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(entry, dict):
                continue
            key = str(entry.get("deployment") or f"{entry.get('time')}:{entry.get('command')}")
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
    rows = sorted(runs.values(), key=lambda r: (r["time"] or "", r["deployment"]))
    for row in rows:
        row["hosts"] = sorted(set(row["hosts"]))
        row["failed"] = sorted(set(row["failed"]))
        row["result"] = "ok" if not row["failed"] else f"failed on {', '.join(row['failed'])}"
    return rows


class HistoryCommand(AppCommand):
    name = "history"
    help = "the app's deployments, rollbacks and undeploys, merged from every host's deployments.log"

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        stack = load_stack(args, ctx.registry)
        app = find_app(stack, args.app)
        hosts = app_hosts(stack, app, args)
        states = ctx.registry.provider(stack.provider)(stack).status(list(stack.instances))
        redact = Redactor(secret_values(stack))
        texts: dict[str, str] = {}

        def work(state: HostDeploy) -> None:
            texts[state.host] = HostSteps(state, app.name, redact, lambda h, m: None).history()

        results = _each_host(stack, hosts, states, args.parallel, work)
        rows = merge_history(texts)
        unreachable = {h: s.error for h, s in results.items() if s.status != "done"}
        if args.format == "json":
            ctx.out.write(json.dumps({"app": app.name, "deployments": rows, "unreachable": unreachable},
                                     indent=2) + "\n")
        else:
            print_table(ctx.out, ("TIME", "COMMAND", "RELEASE", "REVISION", "HOSTS", "RESULT"),
                        [(r["time"], r["command"], r["release"] or "-", (r["revision"] or "-")[:12],
                          ",".join(r["hosts"]), r["result"]) for r in rows])
            for host, error in unreachable.items():
                ctx.err.write(f"runner: {host}: no history: {error}\n")
        return 1 if unreachable else 0


@hookimpl
def runner_commands() -> list[Command]:
    return [DeployCommand(), RollbackCommand(), UndeployCommand(), HistoryCommand()]
