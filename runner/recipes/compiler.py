"""Compile a host's run list into resources: run each recipe with the DSL in its namespace.

Nothing touches a host here. A recipe only declares resources; the engine
probes and applies them later. Every error a recipe causes is a UserError
located in the recipe (or the template) the user has to fix.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Sequence
from typing import Any

from runner.cookbooks import Cookbook, CookbookSet, RecipeRef, merge_attributes
from runner.errors import Location, UserError
from runner.recipes.codecache import load_recipe
from runner.recipes.compilecache import CompileCache, HostFacts, ReadLog, TrackedNode, tracked_view
from runner.recipes.context import Node, RunContext
from runner.recipes.dsl import compile_context, resource_function
from runner.recipes.locate import caller_location, exit_error, recipe_error
from runner.recipes.notifications import resolve_notifications
from runner.recipes.scope import build_scope
from runner.recipes.secrets import mark_sensitive, secret_values
from runner.recipes.views import instance_views, self_view
from runner.resources.api import Resource


def compile_run_list(ctx: RunContext, run_list: Sequence[str]) -> list[Resource]:
    """The resources the recipes of ``run_list`` declare for ``ctx.instance``, in declaration order.

    Recipes run once each (a second ``include_recipe`` of one is a no-op, as
    in Chef); notifications are resolved and checked; resources holding a
    secure environment value are marked sensitive.

    :raises UserError: a recipe or template error, at its file and line.
    """
    roots = [ctx.cookbooks.resolve_recipe(name) for name in run_list]
    books = cookbook_order(ctx.cookbooks, roots)
    attributes = node_attributes(ctx, books)
    cache: CompileCache | None = ctx.compile_cache
    mine = next((view for view in ctx.instances if view.name == ctx.instance.name), None)
    if cache is None or mine is None:
        node = Node(attributes)
        return _compile(ctx, roots, books, node, build_scope(ctx, node))

    def fresh(log: ReadLog) -> list[Resource]:
        node = TrackedNode(attributes, (), log)
        views = instance_views(ctx)
        me = tracked_view(self_view(views), log, own=True)  # found before tracking: finding it reads is_self
        scope = build_scope(ctx, node, [tracked_view(view, log, own=False) for view in views], me)
        databag = scope["databag"]

        def databag_of_this_instance(name: str) -> list[dict[str, Any]]:
            log.add("self", ("name",))  # a data bag names the instance it is written for
            return databag(name)

        scope["databag"] = databag_of_this_instance
        return _compile(ctx, roots, books, node, scope)

    key = (ctx.event, tuple(run_list), repr(ctx.deployment), tuple(ctx.instance.layers),
           id(ctx.stack), id(ctx.cookbooks), id(ctx.instances), id(ctx.command_json))
    return cache.compile(key, HostFacts(attributes, dataclasses.replace(mine, is_self=True)), fresh)


def _compile(ctx: RunContext, roots: Sequence[RecipeRef], books: Sequence[Cookbook], node: Node,
             scope: dict[str, Any]) -> list[Resource]:
    run = _Run(ctx, node, {book.name for book in books}, scope)
    for ref in roots:
        run.include(ref)
    resolve_notifications(run.resources)
    mark_sensitive(run.resources, secret_values(ctx.stack))
    return run.resources


def node_attributes(ctx: RunContext, books: Sequence[Cookbook]) -> dict[str, Any]:
    """The merged attributes: cookbook defaults (in ``books`` order), stack, layers, instance, --json."""
    layers = [ctx.stack.layers[name].custom_json for name in ctx.instance.layers if name in ctx.stack.layers]
    return merge_attributes(
        [book.attributes for book in books], ctx.stack.custom_json, layers, ctx.instance.custom_json, ctx.command_json
    )


def cookbook_order(cookbooks: CookbookSet, roots: Sequence[RecipeRef]) -> list[Cookbook]:
    """The cookbooks whose attributes a run loads, each after the ones it needs.

    A cookbook needs those in its metadata ``depends`` and those its recipes
    include with a literal name, so a dependent cookbook's defaults override
    its dependencies' (Chef's load order).
    """
    needs: dict[str, list[str]] = {}
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        ref = todo.pop(0)
        if str(ref.path) in seen:
            continue
        seen.add(str(ref.path))
        try:
            includes = load_recipe(ref.path).includes
        except UserError:
            continue  # reported, located, when the recipe runs
        for name in includes:
            try:
                target = cookbooks.resolve_recipe(name)
            except UserError:
                continue  # likewise
            needs.setdefault(ref.cookbook.name, []).append(target.cookbook.name)
            todo.append(target)
    order: list[Cookbook] = []
    visited: set[str] = set()

    def visit(name: str) -> None:
        book = cookbooks.get(name)
        if book is None or name in visited:
            return
        visited.add(name)
        for dep in (*book.depends, *needs.get(name, ())):
            visit(dep)
        order.append(book)

    for ref in roots:
        visit(ref.cookbook.name)
    return order


class _Run:
    """One compile: the collection, the recipes already run, the context names."""

    def __init__(self, ctx: RunContext, node: Node, loaded: set[str], scope: dict[str, Any]) -> None:
        self.ctx = ctx
        self.loaded = loaded  # cookbooks whose attributes are in the node
        self.scope = scope  # the context names (build_scope)
        self.resources: list[Resource] = []
        self.done: set[str] = set()
        self.files: set[str] = set()  # recipe files of this run, to find recipe lines in frames

    def include(self, ref: RecipeRef) -> None:
        key = str(ref.path)
        if key in self.done:
            return
        self.done.add(key)  # before running: an include cycle ends here, as in Chef
        self.files.add(key)
        compiled = load_recipe(ref.path)
        namespace = self.namespace(ref)
        try:
            exec(compiled.code, namespace)
        except UserError:
            raise
        except Exception as exc:  # anything the recipe's own code raises is the recipe's error
            raise recipe_error(exc, self.files, Location.of(ref.path)) from exc
        except SystemExit as exc:  # sys.exit() in a recipe must not end runner with nothing done
            raise exit_error(exc, self.files, Location.of(ref.path)) from exc

    def namespace(self, ref: RecipeRef) -> dict[str, Any]:
        context = compile_context(ref, self.scope)
        names: dict[str, Any] = {
            name: resource_function(cls, context, self.resources, self.files)
            for name, cls in self.ctx.resource_types.items()
        }
        names.update(self.scope)  # the context names win over a plugin type of the same name
        names["include_recipe"] = self.include_recipe_function(ref)
        names.update(__builtins__=builtins, __name__=f"recipe:{ref.name}", __file__=str(ref.path))
        return names

    def include_recipe_function(self, current: RecipeRef) -> Any:
        def include_recipe(name: str) -> None:
            """Run recipe ``cookbook::recipe`` here, unless this run has already run it."""
            where = caller_location(self.files)
            ref = self.ctx.cookbooks.resolve_recipe(name, where)
            if ref.cookbook.name not in self.loaded:
                raise UserError(
                    f"cookbook '{ref.cookbook.name}' is not a dependency of '{current.cookbook.name}'",
                    where,
                    f"add it to depends in {current.cookbook.path / 'metadata.yml'}",
                )
            self.include(ref)

        return include_recipe
