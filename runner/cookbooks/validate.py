"""Check a loaded stack against its cookbooks and the installed plugins.

Loading (:mod:`runner.model.loader`) checks the file on its own; this checks
what it refers to: recipe names against recipe files, cookbook ``depends``,
the provider, deploy strategies and load balancer types against what plugins
offer, and literal ``include_recipe("cb::r")`` calls inside the recipes the
stack can run (found with ``ast``, so no recipe code runs here). It needs the
cookbooks, so it lives with them, one layer above the model.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from runner.cookbooks.cookbook_set import CookbookSet, RecipeRef
from runner.cookbooks.resolve import load_cookbooks
from runner.errors import Location, UserError, UserErrors
from runner.model.fields import suggest
from runner.model.loader import error_position, read_stack
from runner.model.sources import SourceDeclaration
from runner.model.stack import Stack
from runner.secrets.reveal import Revealer, check_recipients

if TYPE_CHECKING:
    from runner.plugin.registry import Registry
    from runner.providers.api import Provider


def validate_stack(
    stack: Stack,
    cookbooks: CookbookSet,
    known_providers: Collection[str] | Mapping[str, type[Provider]] | None = None,
    known_strategies: set[str] | None = None,
    known_balancers: set[str] | None = None,
    known_transports: set[str] | None = None,
) -> list[UserError]:
    """Every problem found, each located in the stack file or a recipe file.

    :param known_providers: provider names the plugins offer; None skips the check. Given as
        a mapping of names to provider classes, the stack's provider also checks its
        ``provider_options`` (:meth:`runner.providers.api.Provider.check_options`).
    :param known_strategies: deployment strategy names; None skips the check.
    :param known_balancers: load balancer types; None skips the check.
    :param known_transports: ssh transport names (``stack.ssh.transport``); None skips the check.
    """
    errors: list[UserError] = []
    if known_transports is not None and stack.ssh.transport not in known_transports:
        errors.append(UserError(
            f"unknown ssh transport '{stack.ssh.transport}'",
            stack.where("stack", "ssh", "transport"),
            " ".join(filter(None, [suggest(stack.ssh.transport, sorted(known_transports)),
                                   "known: " + (", ".join(sorted(known_transports)) or "none")])),
        ))
    reachable: list[tuple[str, RecipeRef]] = []  # (layer, recipe) of every run list entry
    for name, layer in stack.layers.items():
        for event, refs in layer.recipes.items():
            for i, ref in enumerate(refs):
                try:
                    where = stack.where("layers", name, "recipes", event, i)
                    reachable.append((name, cookbooks.resolve_recipe(ref, where)))
                except UserError as exc:
                    errors.append(exc)
    used_by = {ref.cookbook.name: f"run list of layer {layer}" for layer, ref in reversed(reachable)}
    errors.extend(cookbooks.check_depends(used_by))
    if known_providers is not None and stack.provider not in known_providers:
        errors.append(
            UserError(
                f"unknown provider '{stack.provider}'",
                stack.where("stack", "provider"),
                suggest(stack.provider, sorted(known_providers), list_all=True) or "no provider plugin is installed",
            )
        )
    elif isinstance(known_providers, Mapping):
        errors.extend(known_providers[stack.provider].check_options(stack))
    if known_strategies is not None:
        for app in stack.apps.values():
            strategy = app.deploy.strategy
            if strategy not in known_strategies:
                errors.append(
                    UserError(
                        f"unknown deployment strategy '{strategy}'",
                        stack.where("apps", app.name, "deploy", "strategy"),
                        suggest(strategy, sorted(known_strategies), list_all=True)
                        or "no deployment strategy plugin is installed",
                    )
                )
    if known_balancers is not None:
        errors.extend(check_balancer_types(stack, known_balancers))
    errors.extend(check_included_recipes(cookbooks, [ref for _, ref in reachable]))
    return errors


def check_balancer_types(stack: Stack, known: set[str]) -> list[UserError]:
    """An error for each app whose ``deploy.load_balancer.type`` no plugin adds."""
    errors = []
    for app in stack.apps.values():
        balancer = app.deploy.load_balancer
        if balancer is not None and balancer.type not in known:
            errors.append(UserError(
                f"unknown load balancer type '{balancer.type}'",
                stack.where("apps", app.name, "deploy", "load_balancer", "type"),
                suggest(balancer.type, sorted(known), list_all=True) or "no load balancer plugin is loaded",
            ))
    return errors


def check_included_recipes(cookbooks: CookbookSet, roots: list[RecipeRef]) -> list[UserError]:
    """Follow literal ``include_recipe`` calls from ``roots``; report the ones that do not resolve."""
    errors: list[UserError] = []
    seen: set[Path] = set()
    todo = list(roots)
    while todo:
        recipe = todo.pop(0)
        if recipe.path in seen:
            continue
        seen.add(recipe.path)
        try:
            calls = list(include_calls(recipe.path))
        except UserError as exc:
            errors.append(exc)
            continue
        for ref, location in calls:
            try:
                todo.append(cookbooks.resolve_recipe(ref, location))
            except UserError as exc:
                errors.append(exc)
    return errors


def include_calls(path: Path) -> Iterator[tuple[str, Location]]:
    """``(recipe name, location)`` for each ``include_recipe("...")`` with a literal name.

    :raises UserError: the recipe file is not valid Python (at the offending line).
    """
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        where = Location.of(path, exc.lineno or 0, exc.offset or 0)
        raise UserError(f"invalid Python in recipe: {exc.msg}", where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read recipe: {exc}", Location.of(path)) from None
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "include_recipe"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.col_offset, node.args[0].value))
    for line, column, ref in sorted(found):
        yield ref, Location.of(path, line, column + 1)


def load_and_validate(
    path: str | Path,
    known_providers: Collection[str] | Mapping[str, type[Provider]] | None = None,
    known_strategies: set[str] | None = None,
    known_balancers: set[str] | None = None,
    known_sources: Mapping[str, SourceDeclaration] | None = None,
    registry: Registry | None = None,
    known_transports: set[str] | None = None,
) -> Stack:
    """Load a stack file and validate it against its cookbooks.

    :param known_sources: the app source types' declarations by name (checked while loading); None
        leaves the sources unchecked.
    :param registry: for the source types and plugin distributions cookbooks are fetched with
        (see :mod:`runner.cookbooks.resolve`); None: the built-in source types, plugins loaded if needed.
    :raises UserErrors: anything wrong, in the stack file, its cookbooks or its recipes, in file
        order; the cookbooks are checked even when the stack file has errors, as long as its
        ``cookbooks`` setting was read whole (else each recipe would look unknown). A value written
        ``!encrypted`` (in the stack's files or its cookbooks' attributes) that cannot be decrypted
        is one of them, at its place; the stack returned holds every plaintext in ``decrypted``.
    """
    reveal = Revealer()
    draft = read_stack(path, known_sources, reveal)
    errors = list(draft.errors)
    if draft.stack is not None:
        errors.extend(check_recipients(draft.stack))
    if draft.stack is not None and draft.cookbooks_complete:
        try:
            cookbooks = load_cookbooks(draft.stack, registry, reveal)
        except UserErrors as exc:
            errors.extend(exc.errors)
        except UserError as exc:  # fetching, or the lock
            errors.append(exc)
        else:
            errors.extend(validate_stack(draft.stack, cookbooks, known_providers, known_strategies, known_balancers,
                                         known_transports))
    if errors or draft.stack is None:
        raise UserErrors(sorted(errors, key=error_position))
    return replace(draft.stack, decrypted=dict(reveal.values))
