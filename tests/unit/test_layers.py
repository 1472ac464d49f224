"""The layers of the code (DESIGN.md, "Layers of the code"): imports go down, never up, and never round.

Every module under runner/ is parsed with ``ast``; every import counts: at the
top, inside a function, inside ``if TYPE_CHECKING:``. Each module belongs to
exactly one layer of :data:`LAYERS`, and may import its own layer and the
layers before it. The parts (resources, providers, ssh, balancers, strategies)
share a level but import each other only as :data:`PART_IMPORTS` says.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "runner"

#: The layers from the ground up. ``runner.x.*`` is the package runner.x and
#: everything under it; a name without ``.*`` is that one module.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # the hookimpl marker and version, errors, and the pure data types hooks receive
    ("base", ("runner", "runner.errors", "runner.events", "runner.statefile")),
    ("model", ("runner.model.*",)),
    ("secrets", ("runner.secrets.*",)),
    ("importer", ("runner.importer.*",)),
    # the parts: see PART_IMPORTS for what they may import of each other
    ("resources", ("runner.resources.*",)),
    ("providers", ("runner.providers.*",)),
    ("ssh", ("runner.ssh.*",)),
    ("balancers", ("runner.balancers.*",)),
    ("strategies", ("runner.strategies.*",)),
    ("sources", ("runner.sources.*",)),
    ("plugin", ("runner.plugin.*", "runner.hookspecs")),
    ("cookbooks", ("runner.cookbooks.*", "runner.recipes.*")),
    ("engine", ("runner.engine.*",)),
    ("lifecycle", ("runner.lifecycle",)),
    ("deploy", ("runner.deploy.*",)),
    ("watch", ("runner.watch.*",)),
    ("api", ("runner.api.*",)),
    ("cli", ("runner.cli.*", "runner.__main__")),
    ("testing", ("runner.testing", "runner.conformance")),
)

#: Which other parts a part may import: providers < ssh < balancers; resources,
#: strategies and app sources stand on the model alone.
PART_IMPORTS: dict[str, frozenset[str]] = {
    "resources": frozenset(),
    "providers": frozenset(),
    "ssh": frozenset({"providers"}),
    "balancers": frozenset({"providers", "ssh"}),
    "strategies": frozenset(),
    "sources": frozenset(),
}

#: All the model may import from runner besides itself.
MODEL_MAY_IMPORT: frozenset[str] = frozenset({"runner", "runner.errors"})

#: (importing module, imported module) pairs that still break the layering,
#: in files another engineer is rewriting right now. Delete an entry with the
#: import; the test fails on an entry that no longer breaks anything.
KNOWN_UPWARD_IMPORTS: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Import:
    """One import of a runner module, where it is written."""

    source: str  # the importing module
    target: str  # the imported module (a name imported from a module counts as that module)
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.source} imports {self.target}"


def module_name(path: Path, root: Path) -> str:
    """``runner/a/b.py`` -> ``runner.a.b``; ``runner/a/__init__.py`` -> ``runner.a``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_under(root: Path) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def _is_ours(name: str, top: str) -> bool:
    return name == top or name.startswith(top + ".")


def imports_of(path: Path, root: Path, known: Iterable[str]) -> Iterator[Import]:
    """Every import of a module of ``root``'s package in the file, wherever it is written.

    ``from a import b`` imports the module ``a.b`` when there is one, else ``a``.
    """
    top = root.name
    known = set(known)
    source = module_name(path, root)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_ours(alias.name, top):
                    yield Import(source, alias.name, path, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if not _is_ours(base, top):
                continue
            targets = (f"{base}.{alias.name}" for alias in node.names)
            for target in dict.fromkeys(t if t in known else base for t in targets):
                yield Import(source, target, path, node.lineno)


def layer_of(module: str) -> str:
    """The layer a module belongs to (the longest matching entry of :data:`LAYERS`)."""
    best: tuple[int, str] | None = None
    for layer, patterns in LAYERS:
        for pattern in patterns:
            if pattern.endswith(".*"):
                package = pattern[:-2]
                matches = _is_ours(module, package)
            else:
                package, matches = pattern, module == pattern
            if matches and (best is None or len(package) > best[0]):
                best = (len(package), layer)
    if best is None:
        raise LookupError(f"{module} is in no layer of LAYERS: add it to the table")
    return best[1]


RANK = {layer: rank for rank, (layer, _) in enumerate(LAYERS)}


def may_import(importer_layer: str, target_layer: str) -> bool:
    if importer_layer == target_layer:
        return True
    if importer_layer in PART_IMPORTS and target_layer in PART_IMPORTS:
        return target_layer in PART_IMPORTS[importer_layer]
    return RANK[target_layer] < RANK[importer_layer]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def graph_of(imports: Iterable[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.source != imp.target:
            graph.setdefault(imp.source, set()).add(imp.target)
    return graph


MODULES = modules_under(PACKAGE)
IMPORTS = [imp for path in MODULES.values() for imp in imports_of(path, PACKAGE, MODULES)]


def test_every_module_is_in_one_layer():
    unplaced = []
    for module in MODULES:
        try:
            layer_of(module)
        except LookupError as exc:
            unplaced.append(str(exc))
    assert not unplaced, "\n".join(unplaced)


def test_imports_go_to_the_same_layer_or_lower():
    upward = [imp for imp in IMPORTS if not may_import(layer_of(imp.source), layer_of(imp.target))]
    unexpected = [f"{imp} ({layer_of(imp.source)} -> {layer_of(imp.target)})"
                  for imp in upward if (imp.source, imp.target) not in KNOWN_UPWARD_IMPORTS]
    assert not unexpected, "imports that go up a layer:\n" + "\n".join(unexpected)


def test_every_known_upward_import_still_exists():
    """An entry of KNOWN_UPWARD_IMPORTS goes once the import is gone, so the list only shrinks."""
    upward = {(imp.source, imp.target) for imp in IMPORTS
              if not may_import(layer_of(imp.source), layer_of(imp.target))}
    assert KNOWN_UPWARD_IMPORTS <= upward, f"fixed, delete from the list: {sorted(KNOWN_UPWARD_IMPORTS - upward)}"


def test_no_import_cycles():
    found = cycles(graph_of(IMPORTS))
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_model_imports_only_errors_the_root_package_and_itself():
    outside = [str(imp) for imp in IMPORTS
               if layer_of(imp.source) == "model"
               and not (imp.target in MODEL_MAY_IMPORT or _is_ours(imp.target, "runner.model"))]
    assert not outside, "\n".join(outside)


def test_layers_and_parts_tables_agree():
    names = [layer for layer, _ in LAYERS]
    assert len(names) == len(set(names))
    assert set(PART_IMPORTS) <= set(names)
    for part, allowed in PART_IMPORTS.items():
        assert allowed <= set(PART_IMPORTS) - {part}


# ---- the checker itself, on a small package written for the purpose ----


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    root = tmp_path / "toy"
    (root / "low").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "low/__init__.py": "from toy.low.a import A\n",
        "low/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from toy.high import H\nA = 1\n",
        "low/b.py": "def f():\n    from . import a\n    from .. import high\n    import toy.low.a\n",
        "high.py": "from toy import low\nfrom toy.low import A\nimport os\nH = 2\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_imports_of_sees_type_checking_function_and_relative_imports(toy: Path):
    modules = modules_under(toy)
    assert set(modules) == {"toy", "toy.low", "toy.low.a", "toy.low.b", "toy.high"}
    found = {(imp.source, imp.target, imp.line) for path in modules.values() for imp in imports_of(path, toy, modules)}
    assert found == {
        ("toy.low", "toy.low.a", 1),
        ("toy.low.a", "toy.high", 3),  # inside if TYPE_CHECKING
        ("toy.low.b", "toy.low.a", 2),  # relative, inside a function
        ("toy.low.b", "toy.high", 3),
        ("toy.low.b", "toy.low.a", 4),
        ("toy.high", "toy.low", 1),  # a name imported from a package counts as the package
        ("toy.high", "toy.low", 2),
    }


def test_cycles_finds_each_strongly_connected_component():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": {"d"}, "f": {"a"}}
    assert cycles(graph) == [["a", "b", "c"], ["d", "e"]]
    assert cycles({"a": {"b"}, "b": {"c"}}) == []


def test_layer_rules():
    assert layer_of("runner") == "base"
    assert layer_of("runner.model.stack") == "model"
    assert layer_of("runner.hookspecs") == "plugin"
    with pytest.raises(LookupError):
        layer_of("runner.nowhere")
    assert may_import("balancers", "ssh") and may_import("ssh", "providers")
    assert not may_import("providers", "ssh") and not may_import("ssh", "balancers")
    assert not may_import("strategies", "resources") and not may_import("balancers", "strategies")
    assert may_import("plugin", "strategies") and not may_import("plugin", "cli")
    assert may_import("engine", "engine") and not may_import("model", "resources")
