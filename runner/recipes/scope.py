"""The names a recipe and a template see (``node``, ``stack``, ``apps``, ``databag`` ...)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from runner.recipes.context import InstanceView, Node, RunContext
from runner.recipes.databags import build_databags
from runner.recipes.views import app_view, instance_views, layer_views, self_view, stack_view

#: the context names, in the order DESIGN.md lists them
CONTEXT_NAMES: tuple[str, ...] = (
    "node", "stack", "layer", "layers", "instance", "instances", "apps", "event", "deployment", "databag",
)


class UnknownName(KeyError):
    """A lookup of an app, layer or data bag that does not exist; the message lists what does."""

    def __str__(self) -> str:
        return str(self.args[0])


class Named(dict[str, Any]):
    """A dict of views by name whose missing keys are reported with the names that exist."""

    def __init__(self, kind: str, items: dict[str, Any]) -> None:
        super().__init__(items)
        self.kind = kind

    def __missing__(self, key: str) -> Any:
        known = ", ".join(self) or "none"
        raise UnknownName(f"no {self.kind} {key!r} in this stack ({self.kind}s: {known})")


def build_scope(ctx: RunContext, node: Node, instances: list[InstanceView] | None = None,
                me: InstanceView | None = None) -> dict[str, Any]:
    """The context names (:data:`CONTEXT_NAMES`) for one run.

    ``layers`` and ``apps`` hold every layer and app of the stack, by name
    (an app's ``layers`` say where it runs); ``layer`` is this instance's
    first layer; ``instances`` is every instance, this one included
    (``is_self``). ``instances`` and ``me`` (this instance's view) replace the views built from
    ``ctx`` (the compile cache gives views that record what is read).
    """
    if instances is None:
        instances = instance_views(ctx)
    layers = layer_views(ctx.stack, instances)
    if me is None:
        me = self_view(instances)
    return {
        "node": node,
        "stack": stack_view(ctx.stack),
        "layer": layers[me.layers[0]] if me.layers and me.layers[0] in layers else None,
        "layers": Named("layer", layers),
        "instance": me,
        "instances": instances,
        "apps": Named("app", {name: app_view(app) for name, app in ctx.stack.apps.items()}),
        "event": ctx.event,
        "deployment": ctx.deployment,
        "databag": databag_reader(ctx),
    }


def databag_reader(ctx: RunContext) -> Callable[[str], list[dict[str, Any]]]:
    """``databag(name)``: the items of an OpsWorks data bag (built on first use, copied on each)."""
    bags: dict[str, list[dict[str, Any]]] = {}

    def databag(name: str) -> list[dict[str, Any]]:
        if not bags:
            bags.update(build_databags(ctx))
        if name not in bags:
            raise UnknownName(f"no data bag {name!r} (data bags: {', '.join(bags)})")
        return copy.deepcopy(bags[name])

    return databag
