"""Version constraints between cookbooks: does the cookbook found for each ``depends`` satisfy it?

The search path is first match wins, so nothing is chosen among versions: each name is the first
cookbook found, and a constraint it does not satisfy is an error at the ``depends`` entry naming the
chain from the stack to it::

    stack uses web (run list of layer app) -> web 1.0.0 depends on haproxy >=2
    -> found haproxy 1.4.0 in cookbooks/

with a hint: a cookbook further along the path that would satisfy every constraint on the name
(list its source first), the other constraints no found version satisfies together with this one,
or else every version found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from runner.cookbooks.cookbook import Cookbook, Dependency
from runner.errors import UserError

#: (cookbook, one of its depends entries)
Constraint = tuple[Cookbook, Dependency]
#: cookbook name -> the cookbook used (the first found)
Used = Mapping[str, Cookbook]
#: cookbook name -> every cookbook of that name along the search path, the used one first
Found = Mapping[str, Sequence[Cookbook]]


def check_versions(cookbooks: Used, found_all: Found, used_by: Mapping[str, str]) -> list[UserError]:
    """An error for each ``depends`` constraint the found cookbook's version does not satisfy.

    :param used_by: cookbook name -> why the stack uses it (``"run list of layer app"``).
    """
    parents = _parents(cookbooks, used_by)
    errors = []
    for cookbook in cookbooks.values():
        for dep in cookbook.dependencies:
            found = cookbooks.get(dep.name)
            if found is None or dep.accepts(found.version):
                continue  # an unknown name is check_depends' error
            steps = [*_chain(cookbook, parents, used_by, cookbooks), f"{cookbook.name} {cookbook.version} depends on "
                     f"{dep}", f"found {dep.name} {found.version} in {source_of(found)}"]
            message = "cookbook version not satisfied: " + " -> ".join(steps)
            errors.append(UserError(message, dep.location, _hint(cookbooks, found_all, cookbook, dep)))
    return errors


def source_of(cookbook: Cookbook) -> str:
    """The search-path entry a cookbook was found in (its parent directory when not recorded)."""
    return cookbook.source or str(cookbook.path.parent)


def constraints_on(cookbooks: Used, name: str) -> list[Constraint]:
    """Every ``depends`` entry naming ``name``, among the cookbooks used (first found)."""
    return [(c, d) for c in cookbooks.values() for d in c.dependencies if d.name == name]


def _parents(cookbooks: Used, used_by: Mapping[str, str]) -> dict[str, str | None]:
    """For each cookbook reachable from the stack, the cookbook that brought it in (None: the stack),
    breadth first so each chain is a shortest one."""
    parents: dict[str, str | None] = {name: None for name in used_by if name in cookbooks}
    todo = list(parents)
    while todo:  # bounded: each name is queued once
        book = cookbooks[todo.pop(0)]
        for dep in book.dependencies:
            if dep.name in cookbooks and dep.name not in parents:
                parents[dep.name] = book.name
                todo.append(dep.name)
    return parents


def _chain(cookbook: Cookbook, parents: Mapping[str, str | None], used_by: Mapping[str, str],
           cookbooks: Used) -> list[str]:
    """The steps from the stack down to ``cookbook`` (excluded): "stack uses web (...)", "web 1.0.0
    depends on base"..."""
    if cookbook.name not in parents:
        return [f"{cookbook.name} (in no run list of the stack)"]
    names = [cookbook.name]
    while (parent := parents[names[-1]]) is not None:  # bounded: parents form a tree
        names.append(parent)
    names.reverse()
    steps = [f"stack uses {names[0]} ({used_by[names[0]]})"]
    for upper, lower in zip(names, names[1:], strict=False):
        book = cookbooks[upper]
        dep = next(d for d in book.dependencies if d.name == lower)
        steps.append(f"{upper} {book.version} depends on {dep}")
    return steps


def _hint(cookbooks: Used, found_all: Found, cookbook: Cookbook, dep: Dependency) -> str:
    found = list(found_all.get(dep.name, ()))
    constraints = constraints_on(cookbooks, dep.name)
    everywhere = ", ".join(f"{c.version} in {source_of(c)}" for c in found)
    better = [c for c in found[1:] if all(d.accepts(c.version) for _, d in constraints)]
    if better:
        return (f"{dep.name} {better[0].version} in {source_of(better[0])} would satisfy it: list "
                f"{source_of(better[0])} before {source_of(found[0])} in stack.cookbooks")
    conflicting = [f"{other.name} {other.version} depends on {d}" for other, d in constraints
                   if not (other is cookbook and d is dep) and not any(dep.accepts(c.version) and d.accepts(c.version)
                                                                for c in found)]
    if conflicting:
        return f"it conflicts with {'; '.join(conflicting)}: no {dep.name} found satisfies both ({everywhere})"
    return f"no source has {dep}; versions found: {everywhere}"
