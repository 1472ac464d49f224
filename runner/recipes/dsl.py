"""The resource functions of a recipe's namespace: ``file(...)``, ``service(...)`` ...

Each call builds the resource, records the recipe line that declared it,
lets it prepare itself against the recipe's own cookbook (templates and
files resolve there) and adds it to the run's collection.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from pathlib import Path
from typing import Any

from runner.cookbooks import RecipeRef
from runner.errors import Location, UserError
from runner.recipes.context import Node
from runner.recipes.locate import caller_location
from runner.recipes.templates import render
from runner.resources.api import CompileContext, Resource, ResourceError
from runner.resources.payload import READ_LIMIT, FilePayload


def resource_function(
    cls: type[Resource],
    context: CompileContext,
    collection: list[Resource],
    recipe_files: Container[str],
) -> Callable[..., Resource]:
    """The DSL function for ``cls`` in the recipe of ``context``; it appends to ``collection``."""
    type_name = cls.type_name

    def declare(*args: Any, **kwargs: Any) -> Resource:
        where = caller_location(recipe_files) or Location.of(context.recipe_path)
        try:
            resource = cls(*args, **kwargs)
        except ResourceError as exc:
            raise UserError(str(exc), where) from None
        except TypeError as exc:  # wrong positional arguments, or a value of the wrong type
            raise UserError(f"{type_name}: {exc}", where) from None
        resource.source_location = str(where)
        try:
            resource.prepare(context)
        except ResourceError as exc:
            raise UserError(str(exc), where) from None
        except UserError as exc:
            if exc.location is None:
                raise UserError(exc.message, where, exc.hint) from None
            raise UserError(f"{exc.message} (rendered from {where})", exc.location, exc.hint) from None
        collection.append(resource)
        return resource

    declare.__name__ = declare.__qualname__ = type_name
    declare.__doc__ = f"Declare a {type_name} resource ({cls.__module__}.{cls.__qualname__})."
    return declare


def compile_context(recipe: RecipeRef, template_scope: Mapping[str, Any]) -> CompileContext:
    """What a resource's ``prepare`` gets: this recipe's cookbook, its templates and files."""
    cookbook = recipe.cookbook

    def render_template(source: str, variables: Mapping[str, Any] | None = None) -> str:
        return render(cookbook, source, variables, template_scope)

    def find_file(source: str) -> Path:
        path = cookbook.file(source)
        if path is None:
            root = cookbook.files_dir
            names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root else []
            hint = f"it has: {', '.join(names)}" if names else "it has no files"
            raise UserError(f"file '{source}' not found in cookbook '{cookbook.name}'", hint=hint)
        return path

    def read_file(source: str) -> bytes:
        return find_file(source).read_bytes()

    def file_payload(source: str) -> bytes | FilePayload:
        """Small files are read; a large one is streamed when sent (its checksum is taken here, in
        chunks, so an unreadable file is the recipe's error, not a host's)."""
        path = find_file(source)
        try:
            payload = FilePayload.of(path)
            if payload.size <= READ_LIMIT:
                return path.read_bytes()
            payload.sha256()
        except OSError as exc:
            raise UserError(f"cannot read file '{source}' of cookbook '{cookbook.name}': "
                            f"{exc.strerror or exc}") from None
        return payload

    node = template_scope.get("node")
    return CompileContext(
        cookbook_name=cookbook.name,
        cookbook_path=cookbook.path,
        recipe_path=recipe.path,
        render_template=render_template,
        read_file=read_file,
        file_payload=file_payload,
        node=node if isinstance(node, Node) else Node(),
    )
