"""Check and build the ``layers`` and ``instances`` entries of a stack file."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.model.fields import Checker, Invalid, dotted, suggest
from runner.model.hostnames import is_valid_hostname
from runner.model.lifecycle import LIFECYCLE_EVENTS
from runner.model.scaling import duration, instance_scaling, read_load_based, read_scaling, read_schedule
from runner.model.stack import AUTO_HEALING_AFTER, SCALING_24_7, SCALING_TIME, Layer, Schedule
from runner.model.yamlsource import KeyPath

LAYER_KEYS: tuple[str, ...] = (
    "recipes", "packages", "custom_json", "auto_healing", "shutdown_timeout", "provider_options", "load_based",
)
AUTO_HEALING_KEYS: tuple[str, ...] = ("after",)
INSTANCE_KEYS: tuple[str, ...] = (
    "layers", "hostname", "address", "port", "user", "key", "custom_json", "ports", "provider_options",
    "schedule", "scaling",
)

_RECIPE = re.compile(r"^[A-Za-z0-9_-]+(::[A-Za-z0-9_-]+)?$")
#: what the package resource accepts as a package name (apt, dnf and yum names)
_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_:~-]*$")


def build_layer(check: Checker, name: str, raw: Any) -> Layer:
    """A :class:`Layer` from ``layers.<name>``; what is wrong is reported and left at its default."""
    path: KeyPath = ("layers", name)
    check.attempt(check.name, path, name, "layer")
    raw = check.attempt(check.mapping, path, raw, LAYER_KEYS, (), True, default={})
    healing, after = check.get(raw, path + ("auto_healing",), lambda p, v: read_auto_healing(check, p, v),
                               (False, AUTO_HEALING_AFTER))
    return Layer(
        name=name,
        recipes=check.get(raw, path + ("recipes",), _recipes_of(check), {}),
        packages=check.get(raw, path + ("packages",), lambda p, v: _packages(check, p, v), ()),
        custom_json=check.get(raw, path + ("custom_json",), check.free_mapping, {}),
        auto_healing=healing,
        auto_healing_after=after,
        shutdown_timeout=check.get(
            raw, path + ("shutdown_timeout",), lambda p, v: check.number(p, v, minimum=0), 120.0
        ),
        provider_options=check.get(raw, path + ("provider_options",), check.free_mapping, {}),
        location=check.key_at(path),
        load_based=check.get(raw, path + ("load_based",), lambda p, v: read_load_based(check, p, v)),
    )


def read_auto_healing(check: Checker, path: KeyPath, value: Any) -> tuple[bool, float]:
    """``auto_healing: true | false | {after: 5m}``: whether it is on, and how long an instance is down first.

    A mapping turns it on; ``after`` is a duration (``30s``, ``5m``, ``1h`` or seconds).
    """
    if isinstance(value, bool):
        return value, AUTO_HEALING_AFTER
    if not isinstance(value, dict):
        raise check.expected(path, "true, false or {after: DURATION}", value)
    raw = check.mapping(path, value, AUTO_HEALING_KEYS, ("after",))
    if "after" not in raw:
        raise Invalid()  # reported by mapping()
    return True, duration(check, path + ("after",), raw["after"])


def _packages(check: Checker, path: KeyPath, value: Any) -> tuple[str, ...]:
    """``packages: [curl, tree]``: system package names, each once; a bad one is reported and left out."""
    names = check.strings(path, value)
    found: list[str] = []
    for i, name in enumerate(value):
        if not isinstance(name, str) or name not in names:
            continue
        if not _PACKAGE.match(name):
            check.fail(path + (i,), f"invalid package name '{name}'",
                       "letters, digits and . + _ : ~ -, starting with a letter or digit")
        elif name in found:
            check.fail(path + (i,), f"package '{name}' is listed twice")
        else:
            found.append(name)
    return tuple(found)


def _recipes_of(check: Checker) -> Callable[[KeyPath, Any], dict[str, tuple[str, ...]]]:
    def recipes(path: KeyPath, value: Any) -> dict[str, tuple[str, ...]]:
        raw = check.mapping(path, value, allow_null=True)
        result: dict[str, tuple[str, ...]] = {}
        for event, names in raw.items():
            if event not in LIFECYCLE_EVENTS:
                check.report(
                    f"{dotted(path)}: unknown lifecycle event '{event}'",
                    check.key_at(path + (event,)),
                    suggest(event, LIFECYCLE_EVENTS, list_all=True),
                )
                continue
            if names is None:
                result[event] = ()
                continue
            items = check.attempt(check.strings, path + (event,), names, default=())
            result[event] = tuple(r for i, r in enumerate(items) if _recipe_name(check, path + (event, i), r))
        return result

    return recipes


def _recipe_name(check: Checker, path: KeyPath, ref: str) -> bool:
    if _RECIPE.match(ref):
        return True
    check.fail(path, f"invalid recipe name '{ref}'", "write 'cookbook' or 'cookbook::recipe'")
    return False


@dataclass
class InstanceDraft:
    """An instance before its hostname is known (the theme needs every instance first)."""

    name: str
    layers: tuple[str, ...]
    hostname: str | None
    address: str | None
    port: int | None
    user: str | None
    key: Path | None
    custom_json: dict[str, Any]
    check: Checker
    ports: tuple[int, ...] = ()
    provider_options: dict[str, Any] = field(default_factory=dict)
    scaling: str = SCALING_24_7
    schedule: Schedule | None = None


def read_instance(check: Checker, name: str, raw: Any, layers: list[str],
                  load_layers: Collection[str] = ()) -> InstanceDraft:
    """Check ``instances.<name>``: its keys, types and that its layers exist.

    :param load_layers: the layers that have ``load_based`` settings (``scaling: load`` needs one).
    """
    path: KeyPath = ("instances", name)
    check.attempt(check.name, path, name, "instance")
    raw = check.attempt(check.mapping, path, raw, INSTANCE_KEYS, ("layers",), default={})
    own_layers = check.get(raw, path + ("layers",), lambda p, v: layer_refs(check, p, v, layers), ())
    schedule = check.get(raw, path + ("schedule",), lambda p, v: read_schedule(check, p, v))
    given = check.get(raw, path + ("scaling",), lambda p, v: read_scaling(check, p, v))
    scaling = instance_scaling(check, path, raw, given, schedule, own_layers, load_layers)
    return InstanceDraft(
        name=name,
        layers=own_layers,
        hostname=check.get(raw, path + ("hostname",), _hostname_of(check)),
        address=check.get(raw, path + ("address",), check.string),
        port=check.get(raw, path + ("port",), lambda p, v: check.integer(p, v, 1, 65535)),
        user=check.get(raw, path + ("user",), check.string),
        key=check.get(raw, path + ("key",), check.file_path),
        custom_json=check.get(raw, path + ("custom_json",), check.free_mapping, {}),
        check=check,
        ports=check.get(raw, path + ("ports",), lambda p, v: service_ports(check, p, v), ()),
        provider_options=check.get(raw, path + ("provider_options",), check.free_mapping, {}),
        scaling=scaling,
        schedule=schedule if scaling == SCALING_TIME else None,
    )


def service_ports(check: Checker, path: KeyPath, value: Any) -> tuple[int, ...]:
    """``ports: [80, 443]``: TCP ports of services on the instance (a provider may publish them)."""
    if not isinstance(value, list):
        raise check.expected(path, "a list of port numbers", value)
    ports: list[int] = []
    for i, item in enumerate(value):
        port = check.attempt(check.integer, path + (i,), item, 1, 65535)
        if port is None:
            continue
        if port in ports:
            check.fail(path + (i,), f"port {port} is listed twice")
            continue
        ports.append(port)
    return tuple(ports)


def layer_refs(check: Checker, path: KeyPath, value: Any, layers: list[str]) -> tuple[str, ...]:
    """A non-empty list of names of existing layers (shared by instances and apps)."""
    check.strings(path, value)  # reports the items that are not strings
    if not value:
        raise check.fail(path, "must name at least one layer")
    found = []
    for i, layer in enumerate(value):
        if not isinstance(layer, str) or not layer:
            continue
        if layer in layers:
            found.append(layer)
        else:
            check.fail(path + (i,), f"unknown layer '{layer}'", suggest(layer, layers))
    return tuple(found)


def _hostname_of(check: Checker) -> Callable[[KeyPath, Any], str]:
    def hostname(path: KeyPath, value: Any) -> str:
        text = check.string(path, value)
        if not is_valid_hostname(text):
            raise check.fail(path, f"invalid hostname '{text}'", "use lower-case letters, digits, '-' and '.'")
        return text

    return hostname

