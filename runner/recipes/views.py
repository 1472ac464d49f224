"""Build the read-only views of :mod:`runner.recipes.context` from the model and a run's inputs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from runner.model.stack import App, Stack
from runner.recipes.context import AppView, InstanceView, LayerView, Node, RunContext, StackView


def instance_views(ctx: RunContext) -> list[InstanceView]:
    """The caller's instances with ``is_self`` set for this run's instance (and only it).

    When the caller left this run's instance out, it is added as online
    (it is being configured, so it is reachable).
    """
    me = ctx.instance.name
    # only the views whose is_self is wrong are replaced: a copy of each would cost every host O(instances)
    views = [view if view.is_self == (view.name == me) else dataclasses.replace(view, is_self=view.name == me)
             for view in ctx.instances]
    if not any(view.name == me for view in views):
        instance = ctx.instance
        views.append(InstanceView(instance.name, instance.hostname, instance.layers, instance.address, "online", True))
    return views


def self_view(views: list[InstanceView]) -> InstanceView:
    return next(view for view in views if view.is_self)


def app_view(app: App) -> AppView:
    return AppView(
        name=app.name,
        shortname=app.name,
        layers=tuple(app.layers),
        environment={key: env.value for key, env in app.environment.items()},
        secure_keys=frozenset(key for key, env in app.environment.items() if env.secure),
        source=source_dict(app),
        deploy=app.deploy,
        custom_json=Node(app.custom_json),
    )


def source_dict(app: App) -> dict[str, Any]:
    """``{"type": ..., <options>}`` with paths as strings."""
    options = {key: str(value) if isinstance(value, Path) else value for key, value in app.source.options.items()}
    return {"type": app.source.type, **options}


def layer_views(stack: Stack, instances: list[InstanceView]) -> dict[str, LayerView]:
    """Every layer of the stack, in file order, with the instances that belong to it."""
    return {
        name: LayerView(
            name=name,
            shortname=name,
            packages=tuple(layer.packages),
            custom_json=Node(layer.custom_json),
            instances=[view for view in instances if name in view.layers],
        )
        for name, layer in stack.layers.items()
    }


def stack_view(stack: Stack) -> StackView:
    return StackView(stack.name, stack.hostname_theme, Node(stack.custom_json), stack.provider)
