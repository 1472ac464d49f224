"""Recipes: compile a host's run list into resources, with the context recipes and templates see.

The engine builds a :class:`RunContext` per host and calls
:func:`compile_run_list`; it writes :func:`app_databags` to
``/srv/<app>/databags/`` and hides :func:`secret_values` in its output.
"""

from runner.recipes.compilecache import CompileCache
from runner.recipes.compiler import compile_run_list, cookbook_order, node_attributes
from runner.recipes.context import (
    AppView,
    DeploymentView,
    InstanceView,
    LayerView,
    MissingAttribute,
    Node,
    RunContext,
    StackView,
)
from runner.recipes.databags import BAG_NAMES, app_databags, build_databags, object_id
from runner.recipes.scope import CONTEXT_NAMES, build_scope
from runner.recipes.secrets import mark_sensitive, secret_values
from runner.recipes.templates import render

__all__ = [
    "BAG_NAMES",
    "CONTEXT_NAMES",
    "AppView",
    "CompileCache",
    "DeploymentView",
    "InstanceView",
    "LayerView",
    "MissingAttribute",
    "Node",
    "RunContext",
    "StackView",
    "app_databags",
    "build_databags",
    "build_scope",
    "compile_run_list",
    "cookbook_order",
    "mark_sensitive",
    "node_attributes",
    "object_id",
    "render",
    "secret_values",
]
