"""``runner converge|setup|configure|execute-recipes|plan``: bring hosts to what the recipes declare."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import IO, Any

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.options import command_json, load_stack, select_instances
from runner.deploy.join import setup_deploys
from runner.engine.host import HostOptions
from runner.engine.outcome import HostOutcome
from runner.engine.redact import Redactor
from runner.engine.report import LivePrinter, host_line, json_report, print_plan, print_summary
from runner.engine.run import DEFAULT_PARALLEL, EarlyConnections, run_jobs
from runner.events import HostResult, RunInfo, RunReport
from runner.lifecycle import plan_run
from runner.model.stack import Stack
from runner.providers.api import InstanceState
from runner.ssh.target import SshTarget, resolve_target


def host_result(o: HostOutcome) -> HostResult:
    return HostResult(o.host, o.count("changed"), o.count("ok"), o.count("failed"), o.seconds, o.error,
                      o.remote_commands)


class RunCommand(Command):
    """A command that runs a lifecycle event's resources on the selected hosts."""

    event = "converge"
    plan_only = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, metavar="N",
                            help=f"hosts at a time (default {DEFAULT_PARALLEL})")

    def recipes(self, args: argparse.Namespace) -> list[str]:
        return []

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        stack = load_stack(args, ctx.registry)
        names = select_instances(stack, args.layer, args.instance)
        event = getattr(args, "event", None) or self.event
        return run_event(ctx, stack, event, names, command_json=command_json(args), recipes=self.recipes(args),
                         verbose=args.verbose, parallel=args.parallel, fmt=args.format,
                         name="plan" if self.plan_only else self.name, plan_only=self.plan_only)


def online_targets(stack: Stack, states: Sequence[InstanceState], names: Sequence[str]) -> dict[str, SshTarget]:
    """The SSH targets of the named instances that are online, in ``names`` order."""
    by_name = {s.name: s for s in states}
    return {n: resolve_target(stack, by_name[n].host) for n in names
            if n in by_name and by_name[n].online}


def run_event(ctx: CommandContext, stack: Stack, event: str, names: list[str], *,
              command_json: dict[str, Any] | None = None, recipes: list[str] | None = None, verbose: int = 0,
              parallel: int = DEFAULT_PARALLEL, fmt: str = "text", name: str | None = None,
              plan_only: bool = False, report: IO[str] | None = None) -> int:
    """Run a lifecycle event on the named instances and report it; returns the exit code (0 or 1).

    ``report`` is where the summary (or the JSON report) goes: stdout unless given.
    """
    registry = ctx.registry
    out = report or ctx.out
    states = registry.provider(stack.provider)(stack).status(list(stack.instances))
    early = None
    if event != "shutdown":  # (shutdown runs bound their commands by shutdown_timeout: plain connections)
        early = EarlyConnections(online_targets(stack, states, names), parallel)
    try:
        plan = plan_run(stack, registry, event, names, command_json or {}, recipes or [], states,
                        setup_deploys=setup_deploys)
    except BaseException:
        if early is not None:
            early.close()
        raise
    redact = Redactor(plan.secrets)
    live = LivePrinter(ctx.err)

    def log(host: str, line: str) -> None:
        live(host, redact(line))

    def changed(host: str, key: str, summary: str) -> None:
        registry.notify("runner_resource_changed", host=host, resource=key, summary=summary)

    name = name or event
    info = RunInfo(name, stack.name, tuple(names), time.time())
    registry.notify("runner_run_start", run=info)
    started = time.monotonic()
    options = HostOptions(plan=plan_only, verbose=verbose, log=log, on_changed=changed, redact=redact)
    done = {o.host: o for o in plan.offline}
    for outcome in run_jobs(plan.jobs, plan.targets, options, parallel=parallel, early=early):
        done[outcome.host] = outcome
    outcomes = [done[n] for n in plan.order if n in done]
    for o in outcomes:
        live(o.host, redact(host_line(o)))
        if o.failed:
            registry.notify("runner_host_failed", host=o.host, error=redact(o.error or "a resource failed"),
                            result=host_result(o))
    registry.notify("runner_run_finish", run=info,
                    report=RunReport(info, tuple(host_result(o) for o in outcomes)))
    seconds = time.monotonic() - started
    if fmt == "json":
        out.write(json_report(name, stack.name, outcomes, seconds))
    elif plan_only:
        print_plan(out, outcomes)
    else:
        print_summary(out, outcomes, f"{name} of stack {stack.name}: {seconds:.1f} s")
    return 1 if any(o.failed for o in outcomes) else 0


class ConvergeCommand(RunCommand):
    name = "converge"
    help = "set up instances never set up, then configure every instance"
    event = "converge"


class SetupCommand(RunCommand):
    name = "setup"
    help = "run the setup event: layer packages, setup recipes, then a deploy of each app at the fleet's release"
    event = "setup"


class ConfigureCommand(RunCommand):
    name = "configure"
    help = "run the configure event on every instance (recipes see the current topology)"
    event = "configure"


class ExecuteRecipesCommand(RunCommand):
    name = "execute-recipes"
    help = "run just the named recipes (cookbook::recipe ...)"
    event = "execute-recipes"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("recipe", nargs="+", help="cookbook or cookbook::recipe")

    def recipes(self, args: argparse.Namespace) -> list[str]:
        return list(args.recipe)


class PlanCommand(RunCommand):
    name = "plan"
    help = "show what converge (or --event) would change, with diffs; touches nothing"
    plan_only = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--event", choices=("converge", "setup", "configure"), default="converge",
                            help="what to plan (default: converge)")


@hookimpl
def runner_commands() -> list[Command]:
    return [ConvergeCommand(), SetupCommand(), ConfigureCommand(), ExecuteRecipesCommand(), PlanCommand()]
