"""What a resource type is: the contract between recipes, resource types and the engine.

A resource type is three parts (see ../shared/STYLE.md):

* a **probe**: a POSIX shell snippet that prints the current state and
  changes nothing;
* a pure **parse** + **diff**: turn the probe's output into a state and
  compare it with the desired one, locally, without a host;
* an **apply**: a POSIX shell snippet that brings the host to the desired
  state, idempotently, and an **action** snippet for actions run by
  notifications (``restart`` a service ...).

The engine runs every resource's probe of a host in one remote command and,
when anything differs, every apply in one more (see runner/engine). Snippets
are plain ``sh``; values in them are quoted with :func:`shlex.quote`.
Contents (files, templates) are never put into a snippet: they travel as
*payloads* on stdin and a snippet refers to one as ``"$P<index>"``, the path
of a temporary file holding it on the host (see :class:`Step`).

Types register through the ``runner_resource_types`` hook, built-in ones
exactly like a plugin's.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from runner.resources.payload import FilePayload, Payload

TIMINGS = ("delayed", "immediately")
COMMON_ARGS = ("action", "notifies", "subscribes", "only_if", "not_if", "sensitive", "ignore_failure")


class ResourceError(ValueError):
    """A resource was declared wrong (unknown argument, bad action, bad value).

    The recipe compiler turns it into a UserError at the recipe's file and line.
    """


#: The line a step prints when, at apply time, it finds nothing to do after all (another process
#: got there first): the engine then reports the resource unchanged. Use it in a step's script:
#: ``f"if [ -e {path} ]; then {UNCHANGED}; exit 0; fi; ..."``.
UNCHANGED_LINE = "@@unchanged"
UNCHANGED = f"printf '%s\\n' {UNCHANGED_LINE}"


@dataclass(frozen=True)
class Notification:
    """``notifies=("restart", "service[hello]")``: run ``action`` on ``target`` when the notifier changed."""

    action: str
    target: str  # "type[name]"
    timing: str = "delayed"  # or "immediately"

    @classmethod
    def parse(cls, value: Any) -> list["Notification"]:
        """Accept a tuple ("action", "type[name]"[, timing]) or a list of such tuples."""
        if value is None:
            return []
        items = [value] if isinstance(value, tuple) or (isinstance(value, list) and value
                                                           and isinstance(value[0], str)) else list(value)
        out = []
        for item in items:
            if not isinstance(item, (tuple, list)) or len(item) not in (2, 3) or not all(
                    isinstance(x, str) for x in item):
                raise ResourceError(f"a notification is (action, 'type[name]'[, 'immediately']), got {item!r}")
            timing = item[2] if len(item) == 3 else "delayed"
            if timing not in TIMINGS:
                raise ResourceError(f"notification timing must be 'delayed' or 'immediately', got {timing!r}")
            if not (item[1].endswith("]") and "[" in item[1]):
                raise ResourceError(f"notification target must look like 'type[name]', got {item[1]!r}")
            out.append(cls(item[0], item[1], timing))
        return out


@dataclass(frozen=True)
class Change:
    """One difference between a host and the desired state, as shown in reports and plans."""

    summary: str  # e.g. "create", "mode 0644 -> 0600", "install curl 7.88"
    diff: str | None = None  # unified diff of a file's contents, when known and not sensitive


@dataclass(frozen=True)
class Step:
    """What the engine runs on the host for one resource (an apply or an action).

    ``script`` is POSIX sh. It may use ``"$P0"``, ``"$P1"`` ... for the paths of
    the ``payloads`` (sent on stdin, written to temporary files before any step
    runs): ``bytes``, or a :class:`~runner.resources.payload.FilePayload` for a
    large local file, read from disk in chunks while it is sent. A non-zero
    exit status fails the resource. The script may print ``@@unchanged`` on a
    line of its own when it found nothing to do after all (state changed
    between probe and apply).
    """

    script: str
    payloads: tuple[Payload, ...] = ()


@dataclass(frozen=True)
class Ahead:
    """The applies of several consecutive resources done by one command, run before the first of them.

    See :meth:`Resource.apply_ahead`. ``members`` are positions in the items
    that method was given, consecutive and at least two; ``done`` holds, for
    each member, a shell condition (builtins only) that is true when that
    member's work is done.
    """

    members: tuple[int, ...]
    script: str
    done: tuple[str, ...]


@dataclass
class CompileContext:
    """What a resource may use while it is declared (templates, cookbook files).

    Built by the recipe compiler for the recipe being run.
    """

    cookbook_name: str
    cookbook_path: Path
    recipe_path: Path
    render_template: Any  # callable(source: str, variables: dict) -> str; errors are UserErrors
    read_file: Any  # callable(source: str) -> bytes, from the cookbook's files/
    node: Mapping[str, Any] = field(default_factory=dict)
    #: callable(source: str) -> bytes | FilePayload: a file of the cookbook's files/ as a payload, read
    #: into memory when small, else streamed from disk when sent (None: only read_file is there)
    file_payload: Any = None

    def payload_of(self, source: str) -> bytes | FilePayload:
        """A file of the cookbook's files/ as a step payload (see :attr:`file_payload`)."""
        if self.file_payload is None:
            return self.read_file(source)
        return self.file_payload(source)


class Resource(abc.ABC):
    """Base class of resource types (``file``, ``service``, a plugin's ``cron`` ...).

    A subclass sets :attr:`type_name` (the DSL function and the ``type`` of
    ``type[name]``), :attr:`actions`, :attr:`default_action` and
    :attr:`properties` (argument name -> default), and implements
    :meth:`probe`, :meth:`parse`, :meth:`diff` and :meth:`apply`.

    The DSL call ``file("/etc/motd", content="hi", notifies=...)`` becomes
    ``File("/etc/motd", content="hi", notifies=...)``: the first positional
    argument is the name; common arguments (:data:`COMMON_ARGS`) are handled
    here; the rest must be in :attr:`properties`.
    """

    type_name: ClassVar[str]
    actions: ClassVar[tuple[str, ...]] = ("create",)
    default_action: ClassVar[str | tuple[str, ...]] = "create"
    properties: ClassVar[Mapping[str, Any]] = {}
    #: actions that only notifications trigger (never part of "desired state"), e.g. service restart
    notify_only_actions: ClassVar[tuple[str, ...]] = ()
    #: when True, the engine may merge the apply steps of all resources of this type into one (packages)
    batchable: ClassVar[bool] = False
    #: when True, the engine offers runs of consecutive resources of this type to :meth:`apply_ahead`
    ahead: ClassVar[bool] = False
    #: when True (the default), the probe runs in its own subshell, so an ``exit`` or ``cd`` in it cannot
    #: disturb the others; a type whose probes never do either may say False and save a process per resource
    probe_isolated: ClassVar[bool] = True
    #: resources whose types share a probe group may be probed by one snippet for all of them
    #: (see :meth:`probe_many`): fewer processes on the host. None: each is probed alone.
    probe_group: ClassVar[str | None] = None

    def __init__(self, name: str, *, action: str | Sequence[str] | None = None, notifies: Any = None,
                 subscribes: Any = None, only_if: str | None = None, not_if: str | None = None,
                 sensitive: bool = False, ignore_failure: bool = False, **kwargs: Any) -> None:
        if not isinstance(name, str) or not name:
            raise ResourceError(f"{self.type_name}: the name must be a non-empty string, got {name!r}")
        unknown = sorted(set(kwargs) - set(self.properties))
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], list(self.properties) + list(COMMON_ARGS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ResourceError(f"{self.type_name}[{name}]: unknown argument {unknown[0]!r}{hint}")
        self.name = name
        self.args: dict[str, Any] = {**self.properties, **kwargs}
        raw = self.default_action if action is None else action
        self.action: tuple[str, ...] = (raw,) if isinstance(raw, str) else tuple(raw)
        for act in self.action:
            if act not in self.actions:
                raise ResourceError(f"{self.type_name}[{name}]: unknown action {act!r}; "
                                    f"one of {', '.join(self.actions)}")
        self.notifies = Notification.parse(notifies)
        self.subscribes = Notification.parse(subscribes)
        for guard, label in ((only_if, "only_if"), (not_if, "not_if")):
            if guard is not None and not isinstance(guard, str):
                raise ResourceError(f"{self.type_name}[{name}]: {label} must be a shell command string")
        self.only_if = only_if
        self.not_if = not_if
        self.sensitive = bool(sensitive)
        self.ignore_failure = bool(ignore_failure)
        self.source_location: str | None = None  # "recipe.py:LINE", set by the compiler
        self.validate()

    # -- identity --------------------------------------------------------

    @property
    def key(self) -> str:
        """``type[name]``, how notifications and reports name this resource."""
        return f"{self.type_name}[{self.name}]"

    def __repr__(self) -> str:
        return f"<{self.key} action={','.join(self.action)}>"

    # -- hooks for subclasses ----------------------------------------------

    def validate(self) -> None:
        """Check argument values; raise ResourceError. Called at the end of __init__."""

    def prepare(self, ctx: CompileContext) -> None:
        """Resolve what needs the cookbook (render a template, read a file from files/)."""

    @abc.abstractmethod
    def probe(self) -> str:
        """A POSIX shell snippet that prints this resource's current state; changes nothing."""

    @abc.abstractmethod
    def parse(self, output: str) -> Any:
        """The state from the probe's stdout (pure; unit-tested with table fixtures)."""

    @abc.abstractmethod
    def diff(self, state: Any) -> list[Change]:
        """What differs between ``state`` and the desired state; empty when in desired state (pure)."""

    @abc.abstractmethod
    def apply(self, state: Any, changes: list[Change]) -> Step:
        """The step that makes the changes; idempotent (pure: returns a script, runs nothing)."""

    def action_step(self, action: str) -> Step:
        """The step for ``action`` when a notification asks for it. Default: unknown action."""
        raise ResourceError(f"{self.key}: action {action!r} cannot be notified")

    def probe_batchable(self) -> bool:
        """Whether this resource may join its type's :attr:`probe_group` (e.g. not for odd paths)."""
        return self.probe_group is not None

    @classmethod
    def probe_many(cls, resources: Sequence["Resource"]) -> str:
        """One snippet probing every resource given (all of this :attr:`probe_group`)."""
        raise NotImplementedError

    @classmethod
    def split_many(cls, output: str, resources: Sequence["Resource"]) -> list[str]:
        """Each resource's share of :meth:`probe_many`'s output, as its own :meth:`probe` would print it."""
        raise NotImplementedError

    @classmethod
    def apply_ahead(cls, items: Sequence[tuple["Resource", Any, list[Change]]]) -> list[Ahead]:
        """Commands that each do the applies of several of ``items`` at once (e.g. one ``mkdir`` for many).

        The engine gives a run of consecutive resources of this type (none
        guarded, none notifying immediately before the run's end) that will be
        applied. Each :class:`Ahead`'s script runs in a subshell with its
        output discarded, right before its first member's step. When it exits
        0, a member whose ``done`` condition holds skips its own step and is
        reported changed. When it fails, it must have undone what it did: every
        member's own step then runs as if there had been no ahead, so errors,
        and stopping at the first failure, stay each resource's own. Default:
        none.
        """
        return []

    @classmethod
    def apply_batch(cls, items: Sequence[tuple["Resource", Any, list[Change]]]) -> Step:
        """One step for several resources of a :attr:`batchable` type (e.g. one apt-get install)."""
        raise NotImplementedError
