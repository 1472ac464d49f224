"""``runner import opsworks``: an OpsWorks stack, from CloudFormation templates or saved describe output, as
stack.yml and MIGRATION.md (see runner.importer), checked as ``runner validate`` would check it."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cookbooks.cookbook_set import CookbookSet, split_recipe
from runner.cookbooks.validate import validate_stack
from runner.errors import Location, UserError
from runner.model.loader import read_stack
from runner.model.stack import CookbookSource
from runner.secrets.reveal import Revealer
from runner.statefile import replace_file


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE")
    return key, value


class ImportCommand(Command):
    name = "import"
    help = "write stack.yml and MIGRATION.md from an OpsWorks stack (CloudFormation template or describe-* output)"
    stack_options = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("kind", choices=("opsworks",), help="what to import from")
        parser.add_argument("sources", nargs="+", metavar="SOURCE", type=Path,
                            help="a CloudFormation template, or saved `aws opsworks describe-*` JSON files")
        parser.add_argument("-o", "--output", type=Path, default=Path("."), metavar="DIR",
                            help="where to write stack.yml and MIGRATION.md (default: here)")
        parser.add_argument("--stack", dest="stack_name", metavar="NAME",
                            help="the OpsWorks stack to import when the sources hold several")
        parser.add_argument("--parameter", action="append", type=_pair, default=[], metavar="KEY=VALUE",
                            help="a template parameter's value (repeatable; default: its Default)")
        parser.add_argument("--app-layer", action="append", type=_pair, default=[], metavar="APP=LAYER",
                            help="the layer an app runs on, when it cannot be told from the types (repeatable)")
        parser.add_argument("--force", action="store_true", help="overwrite an existing DIR/stack.yml")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        from runner.importer import read  # here, not at the top: every other command's start-up goes without it
        from runner.importer.write import migration_md, to_stack_yaml

        target = args.output / "stack.yml"
        if target.exists() and not args.force:
            raise UserError(f"{target} exists; not overwritten", Location(str(target)),
                            hint="give --force to replace it, or -o DIR for another directory")
        for source in args.sources:
            if not source.is_file():
                raise UserError(f"{source}: no such file", Location(str(source)))
        ops = read.read_sources(list(args.sources), dict(args.parameter) or None, args.stack_name)
        text, items = to_stack_yaml(ops, dict(args.app_layer))
        args.output.mkdir(parents=True, exist_ok=True)
        replace_file(target, text)
        replace_file(args.output / "MIGRATION.md", migration_md(ops, items))
        ctx.out.write(f"wrote {target} and {args.output / 'MIGRATION.md'} ({len(items)} items not carried over)\n")
        for line in check(target, ctx):
            ctx.out.write(line + "\n")
        return 0


def check(path: Path, ctx: CommandContext) -> list[str]:
    """What ``runner validate`` says of the written file once the cookbooks it names exist: stub cookbooks
    with those recipes stand in for its sources (which are not fetched here)."""
    from runner.importer.write import FILL_IN

    registry = ctx.registry
    draft = read_stack(path, {n: t.declaration() for n, t in registry.app_sources.items()}, Revealer())
    errors = list(draft.errors)
    books: dict[str, set[str]] = {}
    if draft.stack is not None:
        for layer in draft.stack.layers.values():
            for refs in layer.recipes.values():
                for ref in refs:
                    book, recipe = split_recipe(ref)
                    books.setdefault(book, set()).add(recipe)
        with tempfile.TemporaryDirectory(prefix="runner-import-") as tmp:
            errors.extend(validate_stack(draft.stack, _stubs(Path(tmp), books),
                                         dict(registry.providers), set(registry.strategies) or None,
                                         set(registry.load_balancers) or None))
    lines = path.read_text(encoding="utf-8").splitlines()
    fill = [e for e in errors if e.location and 0 < e.location.line <= len(lines)
            and FILL_IN in lines[e.location.line - 1]]
    other = [e for e in errors if e not in fill]
    out = []
    if books:
        out.append(f"cookbooks named by the layers, to put on the cookbook path (rewritten in Python): "
                   f"{', '.join(sorted(books))}; expected to be missing right after an import")
    for error in fill:
        out.append(f"to fill in: {error.location}: {lines[error.location.line - 1].strip()}")
    for error in other:
        out.append(f"problem: {error}")
    verdict = "passes" if not other else "does not pass"
    out.append(f"{path}: {verdict} runner validate once those cookbooks are on the cookbook path"
               + (f" and the {len(fill)} values above are filled in" if fill else ""))
    return out


def _stubs(root: Path, books: dict[str, set[str]]) -> CookbookSet:
    for book, recipes in books.items():
        (root / book / "recipes").mkdir(parents=True, exist_ok=True)
        (root / book / "metadata.yml").write_text(f"name: {book}\nversion: 0.0.0\n", encoding="utf-8")
        for recipe in recipes:
            (root / book / "recipes" / f"{recipe}.py").write_text("", encoding="utf-8")
    return CookbookSet.from_sources([CookbookSource(root, Location(str(root)))])


@hookimpl
def runner_commands() -> list[Command]:
    return [ImportCommand()]
