"""What a recipe and a template see: the node, read-only views of the stack, and the run's inputs.

Recipes get views, never the model objects: a view holds plain values (an
app's environment as ``{name: value}``, a layer's instances with their
addresses) and cannot change the model that other hosts' runs share.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.cookbooks import CookbookSet
from runner.model.lifecycle import RECIPE_EVENTS
from runner.model.stack import DeploySettings, Instance, Stack
from runner.resources.api import Resource

#: events a run can be compiled for: the lifecycle events plus OpsWorks' ExecuteRecipes command


class MissingAttribute(KeyError, AttributeError):
    """``node[...]`` of a key that is not set; the message names the whole attribute path.

    It is an AttributeError as well so ``getattr(node, "x", default)`` and
    Jinja's attribute lookup behave as with any object.
    """

    def __str__(self) -> str:
        return str(self.args[0])


class Node(Mapping[str, Any]):
    """A read-only view of merged attributes: ``node["a"]["b"]``, ``node.a.b``, ``node.get("x", d)``.

    Nested mappings are Nodes too; lists are returned as new lists (with
    Nodes in place of mappings), so changing them changes nothing here.
    Attribute access is a convenience: keys named like a Mapping method
    (``keys``, ``items``, ``get`` ...) or starting with ``_`` need ``node["..."]``.
    """

    __slots__ = ("_data", "_path")

    def __init__(self, data: Mapping[str, Any] | None = None, path: tuple[Any, ...] = ()) -> None:
        self._data: Mapping[str, Any] = data or {}
        self._path = path

    def __getitem__(self, key: str) -> Any:
        try:
            value = self._data[key]
        except (KeyError, TypeError):
            raise MissingAttribute(f"{self.describe((*self._path, key))} is not set") from None
        return self._child(value, (*self._path, key))

    def _child(self, value: Any, path: tuple[Any, ...]) -> Any:
        """What ``node[key]`` gives for ``value``: a Node for a mapping, a new list for a list."""
        return _wrap(value, path)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __repr__(self) -> str:
        return f"Node({dict(self._data)!r})"

    @staticmethod
    def describe(path: tuple[Any, ...]) -> str:
        """``("nodejs", "port")`` -> ``node['nodejs']['port']``."""
        return "node" + "".join(f"[{key!r}]" for key in path)

    def to_dict(self) -> dict[str, Any]:
        """A deep plain copy (for ``json.dumps`` or a template's ``tojson``)."""
        return _plain(self._data)


def _wrap(value: Any, path: tuple[Any, ...]) -> Any:
    if isinstance(value, Mapping):
        return Node(value, path)
    if isinstance(value, list):
        return [_wrap(item, (*path, i)) for i, item in enumerate(value)]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True)
class InstanceView:
    """One instance of the stack as recipes see it (what configure recipes use for discovery)."""

    name: str
    hostname: str
    layers: tuple[str, ...]
    address: str | None  # the private address other instances reach it at; None when offline
    status: str = "online"  # "online", "stopped", "requested", ...
    is_self: bool = False


@dataclass(frozen=True, repr=False)
class AppView:
    """An app: its environment holds the real values, ``secure_keys`` says which to keep hidden."""

    name: str
    shortname: str
    layers: tuple[str, ...]
    environment: dict[str, str]
    secure_keys: frozenset[str]
    source: dict[str, Any]
    deploy: DeploySettings
    custom_json: Node = field(default_factory=Node)

    @property
    def attributes(self) -> Node:
        """The app's custom JSON (OpsWorks called an app's extra settings its attributes)."""
        return self.custom_json

    def __repr__(self) -> str:  # secure values stay out of tracebacks and debug output
        env = {k: ("***" if k in self.secure_keys else v) for k, v in self.environment.items()}
        return f"AppView(name={self.name!r}, layers={self.layers!r}, environment={env!r})"


@dataclass(frozen=True)
class LayerView:
    name: str
    shortname: str
    packages: tuple[str, ...]
    custom_json: Node
    instances: list[InstanceView]


@dataclass(frozen=True)
class DeploymentView:
    """The command being run, as OpsWorks' CreateDeployment described it."""

    command: str  # "deploy", "setup", "configure", "rollback", "undeploy", "execute_recipes" ...
    app: str | None = None
    release: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StackView:
    name: str
    hostname_theme: str
    custom_json: Node
    provider: str


@dataclass
class RunContext:
    """Everything needed to compile one host's run list.

    :param instances: every instance of the stack with its current status and
        address (the caller knows them: provider state, probes). ``is_self`` is
        recomputed from ``instance``, so the caller may pass the same list to
        every host's context.
    :param resource_types: type name -> Resource subclass (from the plugins).
    :param command_json: the command's ``--json`` attributes (highest precedence).
    """

    stack: Stack
    instance: Instance
    instances: list[InstanceView]
    event: str
    cookbooks: CookbookSet
    resource_types: dict[str, type[Resource]]
    command_json: dict[str, Any] = field(default_factory=dict)
    deployment: DeploymentView | None = None
    command_id: str = ""
    sent_at: str = ""
    #: a run's :class:`runner.recipes.compilecache.CompileCache`, shared by every host's context of
    #: the run (None: each compile runs the recipes). It must only be shared by contexts that differ
    #: in ``instance`` alone.
    compile_cache: Any = None

    def __post_init__(self) -> None:
        if self.event not in RECIPE_EVENTS:
            raise ValueError(f"unknown event {self.event!r}; one of {', '.join(RECIPE_EVENTS)}")
