"""Compile a run list once per run for hosts that would compile it the same.

A compile is a function of what its recipes and templates read: the node's
attributes, this instance's view, which of ``instances`` is this one, and
inputs that are the same for every host of a run (the stack, its layers and
apps, the event, the deployment, the cookbooks). While one host compiles,
its node and instance views record every read (:class:`ReadLog`). Another
host of the run with the same run list, layers and event reuses those
resources when each recorded read gives it the same value: hosts that differ
only in attributes no recipe reads share one compile; a recipe that reads
``instance.hostname`` (or ``is_self``, or a data bag, which names the
instance) makes that host's compile its own.

Values are compared by type and value (``1``, ``1.0`` and ``True`` differ;
other objects by identity), so a read whose value merely prints the same
never matches. Recipes are assumed to depend on nothing but what they read
through these names: one that draws random numbers or reads the clock gets
one draw per group of alike hosts, not one per host.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from runner.recipes.context import InstanceView, LayerView, Node, _plain
from runner.resources.api import Resource

#: the most compiles kept for one (run list, layers, event): hosts that each differ in what their
#: recipes read would otherwise make every lookup walk every earlier host's reads
MAX_VARIANTS = 16

_VIEW_FIELDS = frozenset(f.name for f in fields(InstanceView))
#: reads of the instance view that name the instance itself: a compile that made one is that host's alone
_IDENTITY_FIELDS = frozenset({"name", "hostname", "address", "__dict__"})

Read = tuple[str, tuple[Any, ...]]  # (kind, path): what was read, evaluated against each host's facts
_MISSING = ("missing",)


def value_key(value: Any) -> Any:
    """A comparable key of an attribute value: type and value of plain data, identity of anything else."""
    if value is None or type(value) in (str, bool, int, float, bytes):  # not a subclass: it may print otherwise
        return (type(value).__name__, value)
    if isinstance(value, Mapping):
        return ("map", tuple((value_key(k), value_key(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(value_key(item) for item in value))
    return ("object", id(value))


@dataclass(frozen=True)
class HostFacts:
    """What differs between hosts of one run, as a compile can see it."""

    node: Mapping[str, Any]  # the merged attributes
    me: InstanceView  # this instance's view (is_self True)


def evaluate(read: Read, facts: HostFacts) -> Any:
    """The value ``read`` gives on the host of ``facts`` (compared between hosts, never shown)."""
    kind, path = read
    if kind == "self":
        return value_key(getattr(facts.me, path[0])) if path[0] in _VIEW_FIELDS else ("all", repr(facts.me))
    if kind == "is_self":
        return facts.me.name == path[0]
    value: Any = facts.node
    for key in path:
        if isinstance(value, Mapping):
            try:
                value = value[key]
            except (KeyError, TypeError):  # as Node.__getitem__
                return _MISSING
        elif isinstance(value, list) and type(key) is int and 0 <= key < len(value):
            value = value[key]
        else:
            return _MISSING
    if kind == "keys":
        return tuple(value_key(k) for k in value) if isinstance(value, Mapping) else ("not a mapping",)
    if kind == "all":
        return value_key(_plain(value))
    return ("mapping",) if isinstance(value, Mapping) else value_key(value)  # kind "at"


class ReadLog:
    """The reads of one compile, in first-read order."""

    def __init__(self) -> None:
        self.reads: dict[Read, None] = {}
        self.host_specific = False  # a read that names the instance: no other host can share the compile

    def add(self, kind: str, path: tuple[Any, ...]) -> None:
        self.reads[(kind, path)] = None
        if kind == "is_self" or (kind == "self" and path[0] in _IDENTITY_FIELDS):
            self.host_specific = True


class TrackedNode(Node):
    """A :class:`Node` that records each read in a :class:`ReadLog` (its children too)."""

    __slots__ = ("_log",)

    def __init__(self, data: Mapping[str, Any] | None, path: tuple[Any, ...], log: ReadLog) -> None:
        super().__init__(data, path)
        self._log = log

    def __getitem__(self, key: str) -> Any:
        self._log.add("at", (*self._path, key))
        return super().__getitem__(key)

    def _child(self, value: Any, path: tuple[Any, ...]) -> Any:
        if isinstance(value, Mapping):
            return TrackedNode(value, path, self._log)
        if isinstance(value, list):
            return [self._child(item, (*path, i)) for i, item in enumerate(value)]
        return value

    def __iter__(self) -> Iterator[str]:
        self._log.add("keys", self._path)
        return super().__iter__()

    def __len__(self) -> int:
        self._log.add("keys", self._path)
        return super().__len__()

    def __contains__(self, key: object) -> bool:
        self._log.add("at", (*self._path, key))
        return super().__contains__(key)

    def __repr__(self) -> str:
        self._log.add("all", self._path)
        return super().__repr__()

    def to_dict(self) -> dict[str, Any]:
        self._log.add("all", self._path)
        return super().to_dict()


class TrackedView(InstanceView):
    """An instance view that records reads: all of them for this instance's own view (``instance``),
    only ``is_self`` for the views in ``instances`` (their other fields are the same for every host)."""

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name in _VIEW_FIELDS or name == "__dict__":
            own = object.__getattribute__(self, "__dict__")
            log = own.get("_log")
            if log is not None:
                if own.get("_own"):
                    log.add("self", (name,))
                elif name in ("is_self", "__dict__"):
                    log.add("is_self", (own["name"],))
        return value


def tracked_view(view: InstanceView, log: ReadLog, own: bool) -> TrackedView:
    tracked = TrackedView(**{f: getattr(view, f) for f in _VIEW_FIELDS})
    object.__setattr__(tracked, "_log", log)
    object.__setattr__(tracked, "_own", own)
    return tracked


def holds_scope_objects(resources: Sequence[Resource], depth: int = 4) -> bool:
    """Whether a resource kept a node or a view itself (not a value read from it): it could read it
    later, unrecorded, so its compile must not serve other hosts."""
    def holds(value: Any, left: int) -> bool:
        if isinstance(value, (Node, InstanceView, LayerView)):
            return True
        if left == 0 or isinstance(value, (str, bytes, int, float, bool)) or value is None:
            return False
        if isinstance(value, Mapping):
            return any(holds(v, left - 1) for v in value.values())
        if isinstance(value, (list, tuple, set, frozenset)):
            return any(holds(v, left - 1) for v in value)
        return False

    return any(holds(v, depth) for r in resources for v in vars(r).values())


@dataclass
class _Variant:
    reads: list[tuple[Read, Any]]  # each read with the value it gave on the host that compiled
    resources: list[Resource]


@dataclass
class CompileCache:
    """One run's compiles, by (event, run list, deployment, the instance's layers).

    ``compiles`` and ``hits`` count what :meth:`compile` did (for tests and benchmarks).
    """

    compiles: int = 0
    hits: int = 0
    _variants: dict[Any, list[_Variant]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def compile(self, key: Any, facts: HostFacts,
                fresh: Callable[[ReadLog], list[Resource]]) -> list[Resource]:
        """The resources for the host of ``facts``: a copy of an earlier alike host's, else ``fresh(log)``.

        ``fresh`` compiles with tracked names that record into ``log``. A compile that fails raises
        and is not kept.
        """
        with self._lock:
            variants = list(self._variants.get(key, ()))
        for variant in variants:
            if all(evaluate(read, facts) == value for read, value in variant.reads):
                with self._lock:
                    self.hits += 1
                return [copy.copy(resource) for resource in variant.resources]
        log = ReadLog()
        resources = fresh(log)
        with self._lock:
            self.compiles += 1
        if log.host_specific or holds_scope_objects(resources):
            return resources
        variant = _Variant([(read, evaluate(read, facts)) for read in log.reads], resources)
        with self._lock:
            kept = self._variants.setdefault(key, [])
            if len(kept) < MAX_VARIANTS:
                kept.append(variant)
        return [copy.copy(resource) for resource in resources]
