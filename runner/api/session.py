"""The Session: one stack, its plugins, and every run on it, callable from Python.

::

    from runner.api import Session

    with Session.open("stack.yml", on_event=print) as s:   # load + validate; no host touched
        report = s.converge(instances=["app1"])
        if not report.ok:
            print(report.to_dict())

A session owns the stack (loaded and validated when it opens), the plugin
registry, and the subscriber of its progress events. Each run fetches the
provider's instance states once and hands them to everything that needs
them. Bad input raises :class:`runner.errors.UserError` (with
``file:line:col`` where there is one); a host's failure is in the returned
report, never raised.

``shard=Shard(i, n)`` (or ``"i/n"``) splits the fleet: every run of the session then acts only
on the selected instances in shard ``i`` (0-based) of ``n``, by a hash of their names (see
:mod:`runner.model.shard`), and its report's ``shard`` says what the shard picked. The runs that
need the whole fleet in one place refuse a shard with a UserError: deploy and rollback with a
strategy whose ``needs_whole_fleet`` is true (rolling, blue_green), ``instances_start|stop|destroy``
with their lifecycle (the configure of the other instances after the topology change), and
``watch``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from runner.api import cookbooks as cookbook_actions
from runner.api import dependencies, deploys, runs
from runner.api import instances as instance_actions
from runner.api import status as status_read
from runner.api.base import EventHandler, SessionBase
from runner.api.reports import (
    CookbookListReport,
    CookbooksReport,
    DependenciesReport,
    DeployReport,
    HistoryReport,
    InstancesReport,
    LifecycleReport,
    StatusReport,
    VendorReport,
    WatchReport,
)
from runner.errors import UserError
from runner.events import InstanceChange
from runner.model.lifecycle import CONFIGURE, CONVERGE, EXECUTE_RECIPES, INSTALL_DEPENDENCIES, SETUP, SHUTDOWN
from runner.model.shard import Shard
from runner.plugin.registry import Registry
from runner.ssh.group import DEFAULT_PARALLEL

R = TypeVar("R")
LIFECYCLE_HINT = ("add --no-lifecycle (lifecycle=False) to act on the shard's instances alone, then run "
                  "`runner configure` once for the whole fleet; or run it without --shard")


class Session(SessionBase):
    """Runs on one stack: lifecycle events, deploys, instances, status and history."""

    @classmethod
    def open(cls, path: str | Path = "stack.yml", *, on_event: EventHandler | None = None,
             registry: Registry | None = None, disabled_plugins: Sequence[str] | None = None,
             parallel: int = DEFAULT_PARALLEL, verbose: int = 0,
             shard: Shard | str | None = None, executor: str | None = None) -> "Session":
        """Load and fully validate the stack file (and its cookbooks and recipes); touches no host.

        ``registry`` defaults to every installed plugin but those in ``disabled_plugins``
        (default: the names in $RUNNER_DISABLE_PLUGINS). ``shard``: every run acts only on
        this shard of the selected instances (a :class:`Shard`, or ``"I/N"`` with 0 <= I < N).
        ``executor`` is where recipe runs
        (converge, setup, configure, execute_recipes, plan) do each host's work: an executor URL
        such as ``"dask://127.0.0.1:8786"`` (the runner-dask plugin); None or ``"local"``: threads
        of this process. An unknown scheme raises UserError here.
        """
        from runner.cookbooks.validate import load_and_validate

        if isinstance(shard, str):
            shard = Shard.parse(shard)
        registry = registry or Registry.load(disabled_plugins)
        path = Path(path)
        if not path.exists():
            raise UserError(f"{path}: no such stack file", hint="give one with -f FILE, or run where stack.yml is")
        stack = load_and_validate(path, known_providers=dict(registry.providers),
                                  known_strategies=set(registry.strategies) or None,
                                  known_balancers=set(registry.load_balancers) or None,
                                  known_sources={n: t.declaration() for n, t in registry.app_sources.items()},
                                  registry=registry,
                                  known_transports=set(registry.transports))
        return cls(stack, registry, on_event, parallel=parallel, verbose=verbose, shard=shard,
                   executor=executor)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open between runs (each run closes its connections); here for ``with``."""

    def _noted(self, report: R) -> R:
        """``report`` with what the session's shard picked for its run (nothing without a shard)."""
        if self.shard is not None:
            report.shard = self.shard_selection  # type: ignore[attr-defined]
        return report

    # -- recipes on instances ------------------------------------------------------------

    def converge(self, instances: Sequence[str] | None = None, layers: Sequence[str] | None = None, *,
                 custom_json: Mapping[str, Any] | None = None) -> LifecycleReport:
        """Setup on the instances never set up (it ends with a deploy of their apps), then configure."""
        return self._noted(runs.run_recipes(self, CONVERGE, self.select(instances, layers), custom_json=custom_json))

    def setup(self, instances: Sequence[str] | None = None, layers: Sequence[str] | None = None, *,
              custom_json: Mapping[str, Any] | None = None) -> LifecycleReport:
        """The setup event: layer packages, setup recipes, then a deploy of each app of the layers."""
        return self._noted(runs.run_recipes(self, SETUP, self.select(instances, layers), custom_json=custom_json))

    def configure(self, instances: Sequence[str] | None = None, layers: Sequence[str] | None = None, *,
                  custom_json: Mapping[str, Any] | None = None) -> LifecycleReport:
        """The configure event (recipes see the current topology)."""
        return self._noted(runs.run_recipes(self, CONFIGURE, self.select(instances, layers), custom_json=custom_json))

    def execute_recipes(self, recipes: Sequence[str], instances: Sequence[str] | None = None,
                        layers: Sequence[str] | None = None, *,
                        custom_json: Mapping[str, Any] | None = None) -> LifecycleReport:
        """Just the named recipes (``cookbook`` or ``cookbook::recipe``)."""
        if not recipes:
            raise UserError("execute_recipes needs at least one recipe (cookbook or cookbook::recipe)")
        return self._noted(runs.run_recipes(self, EXECUTE_RECIPES, self.select(instances, layers),
                                            custom_json=custom_json, recipes=list(recipes)))

    def plan(self, event: str = CONVERGE, instances: Sequence[str] | None = None,
             layers: Sequence[str] | None = None, *, custom_json: Mapping[str, Any] | None = None) -> LifecycleReport:
        """What ``event`` (converge, setup or configure) would change, with diffs; touches nothing."""
        if event not in (CONVERGE, SETUP, CONFIGURE):
            raise UserError(f"cannot plan {event!r}: one of converge, setup, configure")
        return self._noted(runs.run_recipes(self, event, self.select(instances, layers), custom_json=custom_json,
                                            plan_only=True))

    def shutdown(self, instances: Sequence[str] | None = None, layers: Sequence[str] | None = None, *,
                 custom_json: Mapping[str, Any] | None = None) -> LifecycleReport:
        """The shutdown recipes, bounded by the layers' shutdown_timeout (``instances_stop`` runs it first)."""
        return self._noted(runs.run_recipes(self, SHUTDOWN, self.select(instances, layers), custom_json=custom_json))

    # -- packages ------------------------------------------------------------------------------

    def install_dependencies(self, instances: Sequence[str] | None = None,
                             layers: Sequence[str] | None = None) -> LifecycleReport:
        """The layers' ``packages`` installed again, as setup installs them (OpsWorks' install_dependencies)."""
        return self._noted(runs.run_recipes(self, INSTALL_DEPENDENCIES, self.select(instances, layers)))

    def update_dependencies(self, instances: Sequence[str] | None = None,
                            layers: Sequence[str] | None = None) -> DependenciesReport:
        """OS package upgrades (apt-get, dnf or yum, as found on each host); the report says which package
        moved from which version to which, per host (OpsWorks' update_dependencies)."""
        return self._noted(dependencies.update_dependencies(self, self.select(instances, layers)))

    # -- apps ----------------------------------------------------------------------------------

    def deploy(self, app: str, *, strategy: str | None = None, batch: int | str | None = None,
               max_failures: int | None = None, instances: Sequence[str] | None = None,
               layers: Sequence[str] | None = None, custom_json: Mapping[str, Any] | None = None) -> DeployReport:
        """A new release of ``app`` on the instances of its layers, rolled out by its strategy."""
        return self._noted(deploys.deploy(self, "deploy", app, strategy=strategy, batch=batch,
                                          max_failures=max_failures, instances=instances, layers=layers,
                                          custom_json=custom_json))

    def rollback(self, app: str, *, strategy: str | None = None, batch: int | str | None = None,
                 max_failures: int | None = None, instances: Sequence[str] | None = None,
                 layers: Sequence[str] | None = None, custom_json: Mapping[str, Any] | None = None) -> DeployReport:
        """One release back (blue_green: switch the balancer back to the idle colour)."""
        return self._noted(deploys.deploy(self, "rollback", app, strategy=strategy, batch=batch,
                                          max_failures=max_failures, instances=instances, layers=layers,
                                          custom_json=custom_json))

    def undeploy(self, app: str, *, instances: Sequence[str] | None = None, layers: Sequence[str] | None = None,
                 custom_json: Mapping[str, Any] | None = None) -> DeployReport:
        """The app's undeploy recipes, then ``/srv/<app>`` removed."""
        return self._noted(deploys.undeploy(self, app, instances=instances, layers=layers, custom_json=custom_json))

    def history(self, app: str, *, instances: Sequence[str] | None = None,
                layers: Sequence[str] | None = None) -> HistoryReport:
        """Every deploy, rollback and undeploy of ``app``, merged from its hosts' logs."""
        return self._noted(deploys.history(self, app, instances=instances, layers=layers))

    # -- instances -----------------------------------------------------------------------------

    def status(self, instances: Sequence[str] | None = None, layers: Sequence[str] | None = None) -> StatusReport:
        """Each instance's provider state, whether it was set up, and the release each app runs there."""
        return self._noted(status_read.status(self, self.select(instances, layers)))

    def instances_list(self, instances: Sequence[str] | None = None,
                       layers: Sequence[str] | None = None) -> InstancesReport:
        return self._noted(instance_actions.act(self, "list", self.select(instances, layers)))

    def instances_start(self, instances: Sequence[str] | None = None, layers: Sequence[str] | None = None, *,
                        lifecycle: bool = True) -> InstancesReport:
        """Start (or create) instances; then a converge, as in OpsWorks (``lifecycle=False``: none)."""
        return self._instances("start", instances, layers, lifecycle)

    def instances_stop(self, instances: Sequence[str] | None = None, layers: Sequence[str] | None = None, *,
                       lifecycle: bool = True) -> InstancesReport:
        """Shutdown recipes, stop the instances, then configure the others (``lifecycle=False``: just stop)."""
        return self._instances("stop", instances, layers, lifecycle)

    def instances_destroy(self, instances: Sequence[str] | None = None, layers: Sequence[str] | None = None, *,
                          lifecycle: bool = True) -> InstancesReport:
        """Like :meth:`instances_stop`, but the instances are removed for good."""
        return self._instances("destroy", instances, layers, lifecycle)

    def _instances(self, action: str, instances: Sequence[str] | None, layers: Sequence[str] | None,
                   lifecycle: bool) -> InstancesReport:
        if lifecycle:
            after = "a converge" if action == "start" else "a configure"
            self.refuse_shard(f"instances {action}", f"it ends with {after} of every online instance of the stack "
                              "(the topology changed), which a run on a part of the fleet cannot do once",
                              LIFECYCLE_HINT)
        names = self.select(instances, layers)
        if self.shard is not None and not names:  # nothing to do: no provider call (to some, no names is all)
            return self._noted(InstancesReport(self.stack.name, action))
        return self._noted(instance_actions.act(self, action, names, lifecycle=lifecycle))

    def watch(self, *, interval: float = 30.0, once: bool = False, duration: float | None = None,
              max_heal_attempts: int = 3, stop: threading.Event | None = None) -> WatchReport:
        """Watch the stack as the OpsWorks service did: heal, schedule and scale its instances.

        A pass every ``interval`` seconds until ``stop`` is set, ``duration`` seconds are over,
        or after one pass (``once``); Ctrl-C ends it cleanly. Each decision is an
        :class:`runner.events.InstanceChange` given to ``on_event``, the events log and the
        ``runner_instance_changed`` hook. Raises UserError when another watch has the stack.
        """
        from runner.api.watch import watch

        self.refuse_shard("watch", "it heals, starts and stops instances by the load and schedule of whole layers, "
                          "then configures every online instance, and keeps one lock per stack",
                          "run one runner watch for the stack, without --shard")
        return watch(self, interval=interval, once=once, duration=duration,
                     max_heal_attempts=max_heal_attempts, stop=stop)

    def events(self, *, instances: Sequence[str] | None = None, follow: bool = False,
               duration: float | None = None, stop: threading.Event | None = None) -> Iterator[InstanceChange]:
        """The stack's events log (what ``runner watch`` decided), oldest first.

        ``follow``: then the new ones as they are written, until ``stop`` is set or ``duration``
        seconds are over (without either, until the caller stops iterating). A log read: the
        session's shard does not filter it.
        """
        from runner.watch import eventlog

        wanted = set(self.chosen(instances)) if instances else None
        ends = None if duration is None else time.monotonic() + duration

        def over() -> bool:
            return not follow or (stop is not None and stop.is_set()) or (
                ends is not None and time.monotonic() >= ends)

        for change in eventlog.follow(self.stack.state_dir, self.stack.name, until=over):
            if wanted is None or change.instance in wanted:
                yield change

    # -- cookbooks -----------------------------------------------------------------------------

    def cookbooks(self) -> CookbookListReport:
        """Each cookbook the stack can use (the first found of its name): version, source, locked
        revision, and the cookbooks and layers that use it."""
        return cookbook_actions.list_cookbooks(self)

    def vendor_cookbooks(self, directory: str | Path, *, force: bool = False) -> VendorReport:
        """Copy the cookbooks the stack uses into ``directory`` (``DIR/<name>/`` each), atomically.

        :raises UserError: ``directory`` exists and is not empty (unless ``force``), or a cookbook
            holds a link leaving it.
        """
        return cookbook_actions.vendor_cookbooks(self, directory, force=force)

    def update_cookbooks(self, names: Sequence[str] = ()) -> CookbooksReport:
        """OpsWorks' update_custom_cookbooks; see :func:`update_cookbooks` (which needs no open session)."""
        return update_cookbooks(self.stack.path, self.registry, names)


def update_cookbooks(path: str | Path, registry: Registry, names: Sequence[str] = ()) -> CookbooksReport:
    """Fetch the git, archive, s3 and package cookbook sources again and rewrite cookbooks.lock (only the
    ``names`` cookbooks' entries when given); without names, also ``git pull --ff-only`` in each cookbook
    path that is a git checkout. Then the stack is validated with what is now locked.

    No session is opened first: a stale lock would stop it, and this is what mends one.
    """
    from runner.api.reports import CookbookPathResult
    from runner.cookbooks.resolve import load_cookbooks, update
    from runner.cookbooks.update import update_path
    from runner.model.loader import load_stack
    from runner.secrets.reveal import Revealer

    stack = load_stack(path, {n: t.declaration() for n, t in registry.app_sources.items()}, Revealer())
    report = CookbooksReport()
    for source in stack.cookbooks:
        if source.path is not None and not names:
            result, detail = update_path(source.path)
            report.paths.append(CookbookPathResult(str(source.path), result, detail))
    report.moves = update(stack, registry, names)  # a failed fetch leaves the lock and the cache as they were
    with Session.open(path, registry=registry) as session:  # validated with what is locked now
        report.cookbooks = sorted(load_cookbooks(session.stack, registry).names)
    return report
