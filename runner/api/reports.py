"""What a session's runs return: reports as data.

Every report has ``ok`` (no host failed) and ``to_dict()``, which is exactly
what ``--format json`` prints. Host failures are in the report, never raised.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from runner.cookbooks.resolve import CookbookMove
from runner.deploy.host import DONE, FAILED_HOST, PENDING, REVERTED, SKIPPED, HostDeploy
from runner.deploy.rollout import BatchRecord, DrainedServer
from runner.engine.outcome import CHANGED, FAILED, OK, HostOutcome
from runner.engine.redact import Redactor
from runner.events import HostResult, InstanceChange
from runner.model.shard import ShardSelection


@dataclass
class LifecycleReport:
    """A run of recipes on instances: converge, setup, configure, execute_recipes, shutdown, or a plan of one."""

    command: str
    stack: str
    hosts: list[HostOutcome] = field(default_factory=list)
    seconds: float = 0.0
    plan: bool = False  # probed and diffed only: nothing was touched
    redact: Redactor = field(default_factory=Redactor, repr=False)
    shard: ShardSelection | None = None  # --shard: what the run's shard picked

    @property
    def ok(self) -> bool:
        return not any(o.failed for o in self.hosts)

    def host(self, name: str) -> HostOutcome:
        return next(o for o in self.hosts if o.host == name)

    def host_results(self) -> list[HostResult]:
        return [HostResult(o.host, o.count(CHANGED), o.count(OK), o.count(FAILED), o.seconds, o.error,
                           o.remote_commands) for o in self.hosts]

    def failures(self) -> dict[str, str]:
        return {o.host: self.redact(o.error or "a resource failed") for o in self.hosts if o.failed}

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "stack": self.stack, "ok": self.ok, "seconds": round(self.seconds, 3),
                **shard_dict(self.shard), "hosts": [o.to_json() for o in self.hosts]}


def shard_dict(shard: ShardSelection | None) -> dict[str, Any]:
    """``{"shard": {...}}`` for a report of a run on a shard, else nothing (the JSON without --shard is unchanged)."""
    return {} if shard is None else {"shard": shard.to_dict()}


def deploy_result(state: HostDeploy) -> str:
    """How a host's part in a deployment reads in a report."""
    return {DONE: "ok", FAILED_HOST: "FAILED", REVERTED: "PUT BACK", SKIPPED: "skipped",
            PENDING: "unchanged"}.get(state.status, state.status)


@dataclass
class DeployReport:
    """A deploy, rollback or undeploy of one app: per host, where it went and how far it got."""

    command: str
    stack: str
    app: str
    hosts: list[HostDeploy] = field(default_factory=list)
    seconds: float = 0.0
    strategy: str | None = None
    release: str | None = None  # deploy: the new release's id
    stopped: str | None = None  # why the strategy stopped early
    batches: list[BatchRecord] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    redact: Redactor = field(default_factory=Redactor, repr=False)
    drained: list[DrainedServer] = field(default_factory=list)  # left out of the balancer by a failed run
    shard: ShardSelection | None = None  # --shard: what the run's shard picked
    #: remote commands the run sent to each lb instance (the balancer's own; not in any app host's count)
    balancer_commands: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(s.status in (DONE, PENDING) for s in self.hosts)

    def host_results(self) -> list[HostResult]:
        return [HostResult(s.host, 1 if s.status == DONE else 0, 0, 1 if s.failed else 0, s.seconds, s.error,
                           s.remote_commands) for s in self.hosts]

    def failures(self) -> dict[str, str]:
        return {s.host: f"{s.step}: {s.error}" for s in self.hosts if s.failed}

    def to_dict(self) -> dict[str, Any]:
        hosts = [{"host": s.host, "result": deploy_result(s).lower().replace(" ", "_"), "ok": s.status == DONE,
                  "release": s.release, "previous": s.previous, "step": s.step, "error": s.error,
                  "output": s.output or None, "seconds": round(s.seconds, 3),
                  "health_seconds": round(s.health_seconds, 3), "remote_commands": s.remote_commands}
                 for s in self.hosts]
        data: dict[str, Any] = {"command": self.command, "stack": self.stack, "app": self.app,
                                "seconds": round(self.seconds, 3), **shard_dict(self.shard)}
        if self.command != "undeploy":
            data.update(release=self.release, strategy=self.strategy, stopped=self.stopped,
                        batches=[dataclasses.asdict(b) for b in self.batches], timings=self.timings,
                        drained=[dataclasses.asdict(d) for d in self.drained])
            if self.balancer_commands:
                data["balancer_commands"] = dict(self.balancer_commands)
        data["hosts"] = hosts
        return _redacted(data, self.redact)


def _redacted(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    return value


@dataclass
class HistoryReport:
    """Every deploy, rollback and undeploy of an app, merged from its hosts' deployments.log."""

    app: str
    deployments: list[dict[str, Any]] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)  # host -> why it has no history
    shard: ShardSelection | None = None  # --shard: what the run's shard picked

    @property
    def ok(self) -> bool:
        return not self.unreachable

    def host_results(self) -> list[HostResult]:
        hosts = sorted({h for row in self.deployments for h in row["hosts"]} | set(self.unreachable))
        return [HostResult(h, error=self.unreachable.get(h), failed=int(h in self.unreachable)) for h in hosts]

    def failures(self) -> dict[str, str]:
        return dict(self.unreachable)

    def to_dict(self) -> dict[str, Any]:
        return {"app": self.app, **shard_dict(self.shard), "deployments": self.deployments,
                "unreachable": self.unreachable}


@dataclass
class InstanceStatus:
    """One instance in ``runner status``: its provider state, whether it was set up, what each app runs."""

    instance: str
    status: str  # OpsWorks' word (runner.api.instance_status): the provider's, or what the runner knows
    layers: list[str]
    setup: bool | None = None  # None: not known (the host was not reached)
    error: str | None = None
    apps: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # app -> release, revision, status, time
    provider_status: str | None = None  # the provider's own word, when ``status`` says otherwise
    reason: str | None = None  # why ``status`` is not the provider's word (e.g. why the setup failed)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if self.provider_status is None:
            del data["provider_status"]
        return data


@dataclass
class StatusReport:
    stack: str
    instances: list[InstanceStatus] = field(default_factory=list)
    shard: ShardSelection | None = None  # --shard: what the run's shard picked

    @property
    def ok(self) -> bool:
        return not any(i.error for i in self.instances)

    def host_results(self) -> list[HostResult]:
        return [HostResult(i.instance, error=i.error, failed=int(bool(i.error))) for i in self.instances]

    def failures(self) -> dict[str, str]:
        return {i.instance: i.error for i in self.instances if i.error}

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "ok": self.ok, **shard_dict(self.shard),
                "instances": [i.to_dict() for i in self.instances]}


@dataclass
class InstanceRow:
    """One instance as its provider sees it after ``instances list|start|stop|destroy``."""

    instance: str
    status: str  # OpsWorks' word (runner.api.instance_status): the provider's, or what the runner knows
    hostname: str
    layers: list[str]
    address: str | None = None
    port: int | None = None
    ports: dict[int, int] = field(default_factory=dict)  # service port -> published port at address
    details: dict[str, Any] = field(default_factory=dict)
    provider_status: str | None = None  # the provider's own word, when ``status`` says otherwise
    reason: str | None = None  # why ``status`` is not the provider's word

    def to_dict(self) -> dict[str, Any]:
        data = {"instance": self.instance, "status": self.status, "hostname": self.hostname,
                "layers": self.layers, "address": self.address, "port": self.port,
                "ports": {str(k): v for k, v in self.ports.items()}, "reason": self.reason}
        if self.provider_status is not None:
            data["provider_status"] = self.provider_status
        if self.details:
            data["details"] = self.details
        return data


@dataclass
class InstancesReport:
    """The instances after an action, and the lifecycle runs it caused (shutdown, converge, configure)."""

    stack: str
    action: str
    instances: list[InstanceRow] = field(default_factory=list)
    events: list[LifecycleReport] = field(default_factory=list)
    shard: ShardSelection | None = None  # --shard: what the run's shard picked

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.events)

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "action": self.action, "ok": self.ok, **shard_dict(self.shard),
                "instances": [i.to_dict() for i in self.instances], "events": [e.to_dict() for e in self.events]}


@dataclass
class PackageChange:
    """One package an update moved: ``before`` None when it was newly installed, ``after`` None when removed."""

    name: str
    before: str | None
    after: str | None


@dataclass
class HostDependencies:
    """One host of ``update_dependencies``: its package manager and the packages that moved."""

    host: str
    ok: bool
    manager: str | None = None  # apt | dnf | yum; None when not found (or the host was not reached)
    changes: list[PackageChange] = field(default_factory=list)
    error: str | None = None
    output: list[str] = field(default_factory=list)  # the upgrade's last lines, when it failed
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "ok": self.ok, "manager": self.manager,
                "changes": [dataclasses.asdict(c) for c in self.changes], "error": self.error,
                "output": self.output or None, "seconds": round(self.seconds, 3)}


@dataclass
class DependenciesReport:
    """``update_dependencies``: per host, which packages moved from which version to which."""

    command: str
    stack: str
    hosts: list[HostDependencies] = field(default_factory=list)
    seconds: float = 0.0
    shard: ShardSelection | None = None  # --shard: what the run's shard picked

    @property
    def ok(self) -> bool:
        return all(h.ok for h in self.hosts)

    def host(self, name: str) -> HostDependencies:
        return next(h for h in self.hosts if h.host == name)

    def host_results(self) -> list[HostResult]:
        return [HostResult(h.host, changed=len(h.changes), failed=int(not h.ok), seconds=h.seconds, error=h.error)
                for h in self.hosts]

    def failures(self) -> dict[str, str]:
        return {h.host: h.error or "failed" for h in self.hosts if not h.ok}

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "stack": self.stack, "ok": self.ok, "seconds": round(self.seconds, 3),
                **shard_dict(self.shard), "hosts": [h.to_dict() for h in self.hosts]}


@dataclass
class CookbookPathResult:
    path: str
    result: str  # updated | up to date | not git | failed | missing
    detail: str


@dataclass
class CookbooksReport:
    """``update-cookbooks``: what happened to each cookbook path, what moved in cookbooks.lock, what loads after."""

    paths: list[CookbookPathResult] = field(default_factory=list)
    cookbooks: list[str] = field(default_factory=list)
    #: the locked cookbooks of git, archive, s3 and package sources: which revision to which
    moves: list[CookbookMove] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.result in ("failed", "missing") for p in self.paths)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "paths": [dataclasses.asdict(p) for p in self.paths], "cookbooks": self.cookbooks,
                "moves": [dataclasses.asdict(m) for m in self.moves]}


@dataclass
class CookbookRow:
    """One cookbook of ``runner cookbooks``: the one found first for its name along the search path."""

    name: str
    version: str
    source: str  # the stack.cookbooks entry it was found in (for a path source, its directory)
    path: str
    revision: str | None = None  # the resolved revision cookbooks.lock pins; None while there is no lock
    dependents: list[str] = field(default_factory=list)  # the cookbooks whose depends name it
    layers: list[str] = field(default_factory=list)  # the layers whose run lists use it directly
    shadowed: list[str] = field(default_factory=list)  # "VERSION in SOURCE" of each later one of the name

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class CookbookListReport:
    """``runner cookbooks``: every cookbook the stack can use, in name order."""

    stack: str
    cookbooks: list[CookbookRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "ok": self.ok, "cookbooks": [c.to_dict() for c in self.cookbooks]}


@dataclass
class VendorReport:
    """``runner cookbooks vendor DIR``: the directory made, and the files copied by cookbook."""

    stack: str
    directory: str
    files: dict[str, int] = field(default_factory=dict)  # cookbook name -> files copied

    @property
    def ok(self) -> bool:
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "ok": self.ok, "directory": self.directory, "files": dict(self.files)}


@dataclass
class WatchReport:
    """What a ``runner watch`` did: its passes, every decision (as the events log has them), and what failed."""

    stack: str
    passes: int = 0
    changes: list[InstanceChange] = field(default_factory=list)
    runs: list[LifecycleReport] = field(default_factory=list)  # the converges and configures it ran
    errors: list[str] = field(default_factory=list)  # a pass that could not be made (provider unreachable ...)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors and all(r.ok for r in self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "ok": self.ok, "passes": self.passes, "interrupted": self.interrupted,
                "changes": [dataclasses.asdict(c) for c in self.changes],
                "runs": [r.to_dict() for r in self.runs], "errors": list(self.errors)}
