"""What each instance runs for a command: OpsWorks' lifecycle events as host jobs.

* setup: the layers' packages, the layers' setup recipes, the app databags;
  then, as in OpsWorks, a deploy of each app of the instance's layers (with
  the layers' deploy recipes), at the release the app's other instances run
  (see runner/deploy/join.py; an instance whose layers carry no app runs its
  deploy recipes in setup instead); and a marker on the host remembering the
  setup, written only once all of it succeeded.
* configure: the layers' configure recipes (they see the current topology in
  ``instances``), and the app databags rewritten.
* converge: configure everywhere, with setup first on hosts that lack the marker.
* execute-recipes: just the named recipes.
* shutdown: the layers' shutdown recipes, bounded by their shutdown_timeout
  (``runner instances stop|destroy`` runs it before stopping instances).
* install_dependencies: the layers' packages, as setup installs them; no recipes.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.cookbooks import CookbookSet
from runner.cookbooks.resolve import load_cookbooks
from runner.engine.host import AfterSetup, HostJob
from runner.engine.outcome import HostOutcome
from runner.errors import UserError
from runner.model.lifecycle import (
    CONFIGURE,
    CONVERGE,
    DEPLOY,
    EXECUTE_RECIPES,
    INSTALL_DEPENDENCIES,
    RECIPE_COMMANDS,
    SETUP,
    SHUTDOWN,
)
from runner.model.stack import Instance, Stack
from runner.plugin.registry import Registry
from runner.providers.api import InstanceState, off_by_design
from runner.recipes import (
    CompileCache,
    DeploymentView,
    InstanceView,
    RunContext,
    app_databags,
    compile_run_list,
    mark_sensitive,
    secret_values,
)
from runner.resources.api import Resource
from runner.ssh.target import SshTarget, resolve_target

MARKER_DIR = "/var/lib/runner"
INTERNAL = "runner (lifecycle)"


#: What deploys the apps at the end of an instance's setup: called once per run with the stack, the
#: compiler, every instance's state and the selected names; returns, per instance whose setup deploys,
#: what runs before its setup marker (runner.deploy.join.setup_deploys; given by the caller, as the
#: deploy layer sits above this one).
SetupDeploys = Callable[[Stack, "EventCompiler", Sequence[InstanceState], Sequence[str]], Mapping[str, AfterSetup]]


def setup_marker(stack: Stack) -> str:
    return f"{MARKER_DIR}/setup-{stack.name}.json"


@dataclass
class RunPlan:
    """Everything a command needs before touching a host."""

    jobs: list[HostJob] = field(default_factory=list)
    targets: dict[str, SshTarget] = field(default_factory=dict)
    offline: list[HostOutcome] = field(default_factory=list)  # selected instances not online
    secrets: set[str] = field(default_factory=set)
    order: list[str] = field(default_factory=list)  # selected instance names in stack order


def instance_views(stack: Stack, states: Sequence[InstanceState]) -> list[InstanceView]:
    by_name = {s.name: s for s in states}
    views = []
    for inst in stack.instances.values():
        state = by_name.get(inst.name)
        host = state.host if state else None
        address = (host.private_address or host.address) if host else None
        views.append(InstanceView(inst.name, inst.hostname, inst.layers, address,
                                  state.status if state else "unknown"))
    return views


class EventCompiler:
    """Compiles the resources of a lifecycle event (or a deployment) for one instance."""

    def __init__(self, stack: Stack, registry: Registry, cookbooks: CookbookSet, views: list[InstanceView],
                 command_json: dict[str, Any]):
        self.stack, self.registry, self.cookbooks = stack, registry, cookbooks
        self.views, self.command_json = views, command_json
        self.compile_cache = CompileCache()  # hosts that would compile alike compile once per run
        self.command_id = str(uuid.uuid4())
        self.sent_at = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")

    def _type(self, name: str) -> type[Resource]:
        try:
            return self.registry.resource_types[name]
        except KeyError:
            raise UserError(f"resource type {name!r} is not available (is its plugin disabled?)") from None

    def context(self, inst: Instance, event: str, deployment: DeploymentView | None = None) -> RunContext:
        return RunContext(self.stack, inst, self.views, event, self.cookbooks, self.registry.resource_types,
                          self.command_json, deployment, self.command_id, self.sent_at, self.compile_cache)

    def recipes(self, inst: Instance, event: str) -> list[str]:
        return [r for layer in inst.layers for r in self.stack.layers[layer].recipes.get(event, ())]

    def _internal(self, resource: Resource) -> Resource:
        resource.source_location = INTERNAL
        return resource

    def apps_of(self, inst: Instance) -> list[str]:
        """The apps on the instance's layers, in stack order: what its setup deploys."""
        return [app.name for app in self.stack.apps.values() if set(app.layers) & set(inst.layers)]

    def databags(self, inst: Instance, ctx: RunContext) -> list[Resource]:
        directory, file = self._type("directory"), self._type("file")
        out: list[Resource] = []
        for app in self.stack.apps.values():
            if not set(app.layers) & set(inst.layers):
                continue
            root = f"/srv/{app.name}"
            out.append(self._internal(directory(root, mode="0755")))
            out.append(self._internal(directory(f"{root}/databags", mode="0700")))
            for bag, text in sorted(app_databags(ctx, app.name).items()):
                out.append(self._internal(file(f"{root}/databags/{bag}.json", content=text.encode(),
                                               mode="0600", sensitive=True, no_symlink=True)))
        return out

    def setup(self, inst: Instance) -> list[Resource]:
        """Every resource of the setup event: :meth:`setup_resources`, then :meth:`setup_finish`."""
        return self.setup_resources(inst) + self.setup_finish(inst)

    def setup_resources(self, inst: Instance) -> list[Resource]:
        """Packages, setup recipes, databags; the deploy recipes too when no app is on the instance's
        layers (otherwise they run in each app's deploy that ends the setup)."""
        ctx = self.context(inst, SETUP, DeploymentView(SETUP))
        out = self.packages(inst)
        deploy = [] if self.apps_of(inst) else self.recipes(inst, DEPLOY)
        out += compile_run_list(ctx, self.recipes(inst, SETUP) + deploy)
        out += self.databags(inst, ctx)
        return out

    def packages(self, inst: Instance) -> list[Resource]:
        """The layers' ``packages``, as one package resource (none when no layer lists any)."""
        packages = list(dict.fromkeys(p for layer in inst.layers for p in self.stack.layers[layer].packages))
        if not packages:
            return []
        return [self._internal(self._type("package")(" ".join(packages), package_name=packages))]

    def setup_finish(self, inst: Instance) -> list[Resource]:
        """The marker remembering the setup: written last, once everything before it succeeded."""
        marker = json.dumps({"stack": self.stack.name, "instance": inst.name}, sort_keys=True) + "\n"
        return [self._internal(self._type("directory")(MARKER_DIR, mode="0755")),
                self._internal(self._type("file")(setup_marker(self.stack), content=marker.encode(), mode="0644",
                                                  no_symlink=True))]

    def configure(self, inst: Instance) -> list[Resource]:
        ctx = self.context(inst, CONFIGURE, DeploymentView(CONFIGURE))
        return compile_run_list(ctx, self.recipes(inst, CONFIGURE)) + self.databags(inst, ctx)

    def deployment(self, inst: Instance, event: str, deployment: DeploymentView) -> list[Resource]:
        """The ``event`` (deploy or undeploy) recipes of the instance's layers, for an app's deployment."""
        ctx = self.context(inst, event, deployment)
        resources = compile_run_list(ctx, self.recipes(inst, event))
        if event == DEPLOY:
            resources += self.databags(inst, ctx)
        return resources

    def shutdown(self, inst: Instance) -> list[Resource]:
        """The layers' shutdown recipes (before the instance is stopped); none: an empty list."""
        recipes = self.recipes(inst, SHUTDOWN)
        if not recipes:
            return []
        return compile_run_list(self.context(inst, SHUTDOWN, DeploymentView(SHUTDOWN)), recipes)

    def execute_recipes(self, inst: Instance, recipes: Sequence[str]) -> list[Resource]:
        ctx = self.context(inst, EXECUTE_RECIPES, DeploymentView(EXECUTE_RECIPES, args={"recipes": list(recipes)}))
        return compile_run_list(ctx, list(recipes))


def plan_run(stack: Stack, registry: Registry, command: str, names: Sequence[str],
             command_json: dict[str, Any] | None = None, recipes: Sequence[str] = (),
             states: Sequence[InstanceState] | None = None, setup_deploys: SetupDeploys | None = None) -> RunPlan:
    """Compile every selected instance's resources for ``command``; touches no host.

    ``setup_deploys`` (converge and setup): what deploys the apps at the end
    of a setup; without it, setup deploys nothing. Raises UserError (exit 2)
    for any recipe or template error, before any host is touched.
    """
    if command not in RECIPE_COMMANDS:
        raise ValueError(f"unknown command {command!r}")
    cookbooks = load_cookbooks(stack, registry)
    for name in recipes:
        cookbooks.resolve_recipe(name)  # an unknown recipe is the user's error, said before anything runs
    if states is None:  # every instance's state: recipes see the whole topology
        states = registry.provider(stack.provider)(stack).status(list(stack.instances))
    builder = EventCompiler(stack, registry, cookbooks, instance_views(stack, states), command_json or {})
    plan = RunPlan(secrets=secret_values(stack), order=list(names))
    deploys: Mapping[str, AfterSetup] = {}
    if setup_deploys is not None and command in (CONVERGE, SETUP):
        deploys = setup_deploys(stack, builder, states, names)
    by_name = {s.name: s for s in states}
    for name in names:
        inst, state = stack.instances[name], by_name[name]
        if not state.online:
            if not off_by_design(inst, state.status):  # a time- or load-based one at rest is no failure
                plan.offline.append(HostOutcome(name, error=f"instance is {state.status}", cause="offline"))
            continue
        if command in (CONVERGE, SETUP):
            converge = command == CONVERGE
            job = HostJob(name, builder.configure(inst) if converge else [], builder.setup_resources(inst),
                          setup_marker(stack) if converge else None,
                          setup_finish=builder.setup_finish(inst), after_setup=deploys.get(name))
        elif command == CONFIGURE:
            job = HostJob(name, builder.configure(inst))
        elif command == INSTALL_DEPENDENCIES:
            job = HostJob(name, builder.packages(inst))
        elif command == SHUTDOWN:
            resources = builder.shutdown(inst)
            if not resources:
                continue  # nothing to run: no connection either
            job = HostJob(name, resources)
        else:
            job = HostJob(name, builder.execute_recipes(inst, recipes))
        mark_sensitive(job.resources + (job.setup_resources or []) + job.setup_finish, plan.secrets)
        plan.jobs.append(job)
        plan.targets[name] = resolve_target(stack, state.host)
        if command == SHUTDOWN:  # bounded by the layers' shutdown_timeout, as in OpsWorks
            limit = max(stack.layers[layer].shutdown_timeout for layer in inst.layers) if inst.layers else 120.0
            target = plan.targets[name]
            plan.targets[name] = dataclasses.replace(target, command_timeout=min(target.command_timeout, limit))
    return plan
