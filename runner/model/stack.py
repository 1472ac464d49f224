"""Typed objects for a stack: what stack.yml says, after validation.

These are public types: hooks (providers, strategies, resource types) receive
them. They are frozen so no plugin can change the model under another's feet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.errors import Location
from runner.model.merge import deep_merge
from runner.model.yamlsource import Located

HOST_KEY_POLICIES: tuple[str, ...] = ("strict", "accept-new", "off")
#: ``ssh.kex``: classic key exchanges only (curve25519, ECDH: what paramiko offers too), or what ssh and
#: ~/.ssh/config choose (OpenSSH 9 puts its post-quantum sntrup761x25519 first: ~80 ms more CPU per handshake)
KEX_CHOICES: tuple[str, ...] = ("classic", "system")

Path_ = tuple[str | int, ...]
#: secure values shorter than this would match too much by chance ("on", "1") to be hidden in output
MIN_SECRET_LENGTH = 4


@dataclass(frozen=True)
class SshSettings:
    """How to reach the hosts (stack-wide; a static instance may override user/port/key)."""

    user: str | None = None  # None: ~/.ssh/config, else root
    key: Path | None = None
    port: int | None = None  # None: ~/.ssh/config, else 22
    host_key_policy: str = "strict"
    known_hosts: Path | None = None  # None: the stack's state dir known_hosts
    config_file: Path | None = None  # None: ~/.ssh/config when it exists
    use_agent: bool = True
    connect_timeout: float = 10.0
    command_timeout: float = 600.0
    # a host that answers none of keepalive_count keepalives sent keepalive_interval s apart is lost
    # (OpenSSH's ServerAliveInterval and ServerAliveCountMax): about 30 s by default
    keepalive_interval: float = 10.0
    keepalive_count: int = 3
    sudo: bool | None = None  # None: sudo when user is not root
    sudo_password_env: str | None = None  # name of an environment variable holding it
    transport: str = "paramiko"  # a name the runner_transports hook adds: paramiko | openssh | <plugin>
    persist: float = 60.0  # seconds a warm connection stays open after its last use (0: closed at once)
    kex: str = "classic"  # one of KEX_CHOICES (the openssh transport; paramiko only has the classic ones)


#: the kinds of ``stack.cookbooks`` entries: a local directory, or one fetched into the cache and locked
COOKBOOK_SOURCE_KINDS: tuple[str, ...] = ("path", "git", "archive", "s3", "package")


@dataclass(frozen=True)
class CookbookSource:
    """One entry of ``stack.cookbooks``: a directory of cookbooks, or where one is fetched from.

    ``path`` is the directory for the ``path`` kind (absolute), None for the
    others. ``options`` are the entry's keys as written (``{git: URL, ref: v1}``),
    which is also what ``cookbooks.lock`` records as its source.
    """

    path: Path | None
    location: Location
    kind: str = "path"
    options: dict[str, Any] = field(default_factory=dict, compare=False)
    index: int = 0  # its position in stack.cookbooks, for stack.where("stack", "cookbooks", index, key)

    @property
    def remote(self) -> bool:
        """Whether it is fetched (and locked) rather than read where it is."""
        return self.kind != "path"


@dataclass(frozen=True)
class HealthCheck:
    command: str
    timeout: float = 30.0
    retries: int = 3
    interval: float = 1.0


@dataclass(frozen=True)
class BalancerSettings:
    """``apps.<app>.deploy.load_balancer`` in stack.yml, with its defaults resolved."""

    type: str = "haproxy"
    layer: str = "lb"  # the layer whose instances run the balancer
    backend: str = ""  # the backend (pool) name; the loader fills in the app's first layer
    options: dict[str, Any] = field(default_factory=dict)  # balancer-specific (e.g. the socket path)


@dataclass(frozen=True)
class DeploySettings:
    strategy: str = "all_at_once"
    batch: int | str = 1  # a count, or a percentage such as "30%"
    keep_releases: int = 5
    max_failures: int = 0
    health_check: HealthCheck | None = None
    options: dict[str, Any] = field(default_factory=dict)  # strategy-specific extras
    load_balancer: BalancerSettings | None = None  # None: no balancer to take instances out of


@dataclass(frozen=True)
class AppSource:
    """An app's ``source:``: its type and its other keys.

    The keys a type accepts are declared by its plugin (:mod:`runner.sources`);
    loading with the declarations checks them and reads them (``path`` becomes
    an absolute :class:`Path`). Without, ``options`` are the raw values.
    """

    type: str
    options: dict[str, Any]  # path / url / revision / bucket / key / fetch ...
    #: where the source mapping was written (its file and key path), for later checks; None when built in code
    origin: Located | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SecretsSettings:
    """``stack.secrets``: who the stack's ``!encrypted`` values are encrypted to."""

    recipients: tuple[str, ...] = ()  # age public keys (age1...), one per person or CI


@dataclass(frozen=True)
class EnvValue:
    value: str
    secure: bool = False
    encrypted: bool = False  # written !encrypted (then always secure)

    def __repr__(self) -> str:  # keep secrets out of tracebacks and debug output
        shown = "'***'" if self.secure else repr(self.value)
        return f"EnvValue(value={shown}, secure={self.secure}, encrypted={self.encrypted})"


@dataclass(frozen=True)
class Database:
    """``stack.databases.<name>``: a database registered with the stack (OpsWorks' RDS layer)."""

    name: str
    engine: str  # mysql, postgres, ...
    address: str
    port: int
    database: str | None  # the database (schema) name on the server
    username: str
    password: EnvValue  # always secure
    location: Location = Location("stack.yml")

    def __repr__(self) -> str:  # EnvValue hides the password itself; say so here too
        return (f"Database(name={self.name!r}, engine={self.engine!r}, address={self.address!r}, "
                f"port={self.port}, database={self.database!r}, username={self.username!r}, password='***')")


WEEKDAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: ``instances.<name>.scaling``: how an instance is started and stopped (OpsWorks' three kinds)
SCALING_24_7 = "24/7"  # by the user (runner instances start|stop, converge)
SCALING_TIME = "time"  # by runner watch, following the instance's schedule
SCALING_LOAD = "load"  # by runner watch, following its layers' load_based settings
SCALINGS: tuple[str, ...] = (SCALING_24_7, SCALING_TIME, SCALING_LOAD)


@dataclass(frozen=True)
class Schedule:
    """``instances.<name>.schedule``: the UTC hours of each weekday the instance is on (OpsWorks'
    WeeklyAutoScalingSchedule). ``days[0]`` is Monday; an hour ``h`` means ``h:00`` to ``h+1:00``."""

    days: tuple[frozenset[int], ...] = (frozenset(),) * 7

    def is_on(self, weekday: int, hour: int) -> bool:
        return hour in self.days[weekday]

    def block(self, weekday: int, hour: int) -> tuple[int, int]:
        """The run of hours of ``weekday`` around ``hour`` that are all on (or all off): [start, end)."""
        on = self.is_on(weekday, hour)
        start, end = hour, hour + 1
        while start > 0 and self.is_on(weekday, start - 1) == on:
            start -= 1
        while end < 24 and self.is_on(weekday, end) == on:
            end += 1
        return start, end


@dataclass(frozen=True)
class ScalingThresholds:
    """One direction of ``layers.<name>.load_based`` (OpsWorks' AutoScalingThresholds).

    A threshold of -1 is off. ``cpu`` and ``memory`` are percentages, ``load`` the 1-minute load
    average; each is averaged over the layer's online instances.
    """

    instances: int = 1  # how many instances to start (up) or stop (down) at once
    cpu: float = -1.0
    memory: float = -1.0
    load: float = -1.0
    thresholds_wait_time: float = 300.0  # seconds the thresholds must hold before acting
    ignore_metrics_time: float = 300.0  # seconds after acting during which metrics are not read

    @property
    def thresholds(self) -> dict[str, float]:
        """The thresholds that are on, by metric (``cpu``, ``memory``, ``load``)."""
        given = {"cpu": self.cpu, "memory": self.memory, "load": self.load}
        return {metric: value for metric, value in given.items() if value != -1}


#: OpsWorks' console defaults: start one instance above 80 % CPU, stop one below 30 %
UP_DEFAULTS = ScalingThresholds(cpu=80.0)
DOWN_DEFAULTS = ScalingThresholds(cpu=30.0, thresholds_wait_time=600.0, ignore_metrics_time=600.0)


@dataclass(frozen=True)
class LoadBased:
    """``layers.<name>.load_based`` (OpsWorks' SetLoadBasedAutoScaling)."""

    enable: bool = True
    up: ScalingThresholds = UP_DEFAULTS
    down: ScalingThresholds = DOWN_DEFAULTS


#: Seconds an instance of an ``auto_healing`` layer may be down before it is healed (OpsWorks' five minutes).
AUTO_HEALING_AFTER = 300.0


@dataclass(frozen=True)
class Layer:
    name: str
    recipes: dict[str, tuple[str, ...]]  # event -> recipe names ("cb" or "cb::r")
    packages: tuple[str, ...] = ()
    custom_json: dict[str, Any] = field(default_factory=dict)
    auto_healing: bool = False
    auto_healing_after: float = AUTO_HEALING_AFTER  # seconds an instance is down before runner watch heals it
    shutdown_timeout: float = 120.0
    provider_options: dict[str, Any] = field(default_factory=dict)  # over the stack's, under an instance's
    location: Location = Location("stack.yml")
    load_based: LoadBased | None = None  # None: runner watch never starts or stops its instances for load


@dataclass(frozen=True)
class Instance:
    name: str
    layers: tuple[str, ...]
    hostname: str  # given, or from the stack's hostname theme
    address: str | None = None  # static provider
    port: int | None = None
    user: str | None = None
    key: Path | None = None
    custom_json: dict[str, Any] = field(default_factory=dict)
    ports: tuple[int, ...] = ()  # service ports to publish (docker: on 127.0.0.1, a port Docker picks)
    provider_options: dict[str, Any] = field(default_factory=dict)  # over its layers' and the stack's
    location: Location = Location("stack.yml")
    scaling: str = SCALING_24_7  # SCALING_24_7 | SCALING_TIME (it has a schedule) | SCALING_LOAD
    schedule: Schedule | None = None  # set exactly when scaling is SCALING_TIME


@dataclass(frozen=True)
class App:
    name: str
    layers: tuple[str, ...]
    source: AppSource
    environment: dict[str, EnvValue] = field(default_factory=dict)
    deploy: DeploySettings = field(default_factory=DeploySettings)
    custom_json: dict[str, Any] = field(default_factory=dict)
    location: Location = Location("stack.yml")
    data_sources: tuple[str, ...] = ()  # names of stack.databases entries the app uses


@dataclass(frozen=True)
class Stack:
    name: str
    path: Path  # the stack file
    provider: str = "static"
    provider_options: dict[str, Any] = field(default_factory=dict)
    hostname_theme: str = "Layer_Dependent"
    ssh: SshSettings = field(default_factory=SshSettings)
    cookbooks: tuple[CookbookSource, ...] = ()
    custom_json: dict[str, Any] = field(default_factory=dict)
    layers: dict[str, Layer] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    apps: dict[str, App] = field(default_factory=dict)
    databases: dict[str, Database] = field(default_factory=dict)
    marks: dict[Path_, Location] = field(default_factory=dict, repr=False, compare=False)
    secrets: SecretsSettings = field(default_factory=SecretsSettings)
    #: the plaintext of every ``!encrypted`` value decrypted for this stack (its own and its cookbooks'
    #: attributes), by armored text: all of them secure (see :func:`runner.recipes.secret_values`).
    #: A cache: loading the cookbooks of a stack that was not validated adds theirs.
    decrypted: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def state_dir(self) -> Path:
        """Where the runner keeps this stack's keys, known_hosts and state (.runner/ beside stack.yml)."""
        return self.directory / ".runner"

    @property
    def known_hosts_path(self) -> Path:
        return self.ssh.known_hosts or self.state_dir / "known_hosts"

    def where(self, *path: str | int) -> Location:
        """The location of a key path in the stack file, e.g. where("layers", "app", "recipes").

        Falls back to the nearest enclosing node that has a mark, then to the file itself.
        """
        key: Path_ = tuple(path)
        while key:
            if key in self.marks:
                return self.marks[key]
            key = key[:-1]
        return self.marks.get((), Location.of(self.path))

    def provider_options_for(self, instance: str) -> dict[str, Any]:
        """The provider options of one instance: its own over its layers' over the stack's.

        Mappings merge key by key (``tags`` from every level add up); other values are
        replaced by the nearer level. Of an instance's layers, the first wins, as the
        first layer names the instance (OpsWorks' hostname and Layer_Dependent theme).
        """
        inst = self.instances[instance]
        options = dict(self.provider_options)
        for layer in reversed(inst.layers):
            if layer in self.layers:
                options = deep_merge(options, self.layers[layer].provider_options)
        return deep_merge(options, inst.provider_options)

    def provider_option_places(self) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        """Every ``provider_options`` mapping of the stack with its key path (stack, layers, instances)."""
        places: list[tuple[tuple[str, ...], dict[str, Any]]] = [(("stack", "provider_options"), self.provider_options)]
        places += [(("layers", n, "provider_options"), layer.provider_options) for n, layer in self.layers.items()]
        places += [(("instances", n, "provider_options"), inst.provider_options) for n, inst in self.instances.items()]
        return [(path, options) for path, options in places if options]

    def instances_of(self, layer: str) -> list[Instance]:
        return [i for i in self.instances.values() if layer in i.layers]
