"""Options every stack command takes, and turning them into a stack and a selection."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from runner.errors import UserError
from runner.model.stack import Stack
from runner.plugin.registry import Registry


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: `runner -f x.yml converge` and `runner converge -f x.yml` both work
    parser.add_argument("-f", "--file", default=argparse.SUPPRESS, help="the stack file (default: ./stack.yml)")
    parser.add_argument("--layer", action="append", default=[], help="only instances of this layer (repeatable)")
    parser.add_argument("--instance", action="append", default=[], help="only this instance (repeatable)")
    parser.add_argument("--json", dest="json_attrs", default=None, metavar="JSON",
                        help="extra attributes as a JSON object, or @FILE (highest precedence)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def load_stack(args: argparse.Namespace, registry: Registry) -> Stack:
    """Load and fully validate the stack named by -f, knowing the registered plugins."""
    from runner.model.validate import load_and_validate

    path = Path(args.file)
    if not path.exists():
        raise UserError(f"{path}: no such stack file", hint="give one with -f FILE, or run where stack.yml is")
    strategies = set(registry.strategies) or None
    if strategies is None and args.command in ("validate",):
        # no strategy plugin loaded (or all disabled): say so rather than call every strategy unknown
        print("runner: warning: no deployment strategy plugin is loaded; deploy.strategy is not checked",
              file=sys.stderr)
    return load_and_validate(path, known_providers=set(registry.providers), known_strategies=strategies,
                             known_balancers=set(registry.load_balancers) or None,
                             known_sources={name: t.declaration() for name, t in registry.app_sources.items()})


def command_json(args: argparse.Namespace) -> dict[str, Any]:
    """The --json attributes (a JSON object, or @FILE holding one)."""
    raw = args.json_attrs
    if raw is None:
        return {}
    source = "--json"
    if raw.startswith("@"):
        source = raw[1:]
        try:
            raw = Path(source).read_text()
        except OSError as exc:
            raise UserError(f"--json: cannot read {source}: {exc.strerror}") from None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UserError(f"{source}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise UserError(f"{source}: expected a JSON object, got {type(value).__name__}")
    return value


def select_instances(stack: Stack, layers: list[str], instances: list[str]) -> list[str]:
    """Names of the instances chosen by --layer/--instance (all when neither is given)."""
    from difflib import get_close_matches

    for name, table, kind in [(n, stack.layers, "layer") for n in layers] + [
        (n, stack.instances, "instance") for n in instances
    ]:
        if name not in table:
            close = get_close_matches(name, list(table), n=1)
            raise UserError(f"--{kind} {name}: no {kind} {name!r} in {stack.path.name}",
                            hint=f"did you mean {close[0]!r}?" if close else None)
    chosen = []
    for inst in stack.instances.values():
        by_layer = not layers or any(layer in inst.layers for layer in layers)
        by_name = not instances or inst.name in instances
        if by_layer and by_name:
            chosen.append(inst.name)
    return chosen
