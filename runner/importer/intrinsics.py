"""CloudFormation's intrinsic functions, worked out as far as a template alone allows.

A ``Ref`` to a parameter gives its value (``--parameter`` or its Default); a ``Ref`` to a resource of the
template gives the resource's logical id (the importer's id for layers, apps, the stack); ``Fn::Sub``,
``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::FindInMap``, ``Fn::If`` with a condition that can be
decided, ``Fn::Equals`` / ``Not`` / ``And`` / ``Or`` and ``Fn::Base64`` are computed. What only a
deployed stack knows (``Fn::GetAtt``, ``Fn::ImportValue``, ``Fn::GetAZs``, a ``Ref`` to an RDS instance,
``AWS::AccountId``) stays a readable placeholder such as ``<!GetAtt Db.Endpoint.Address>`` and is noted.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from runner.errors import Location, UserError
from runner.model.yamlsource import Document

KeyPath = tuple[str | int, ...]


class _NoValue:
    """``Ref: AWS::NoValue``: the property is left out."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

_FUNCTIONS = frozenset({
    "Ref", "Condition", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::If", "Fn::FindInMap", "Fn::Select",
    "Fn::Split", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Fn::Base64", "Fn::GetAZs", "Fn::ImportValue",
    "Fn::Cidr", "Fn::Transform", "Fn::Length", "Fn::ToJsonString",
})
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_KNOWN_PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


def is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("<!") and value.endswith(">")


@dataclass
class Resolver:
    """Resolves the values of one template. ``notes`` collects what could not be worked out."""

    document: Document
    parameters: dict[str, Any]  # name -> value (a list for List<...> / CommaDelimitedList types)
    unset: frozenset[str]  # parameters with neither a Default nor a given value
    resources: dict[str, str]  # logical id -> resource type
    pseudo: dict[str, str]  # AWS::Region, AWS::StackName, ... as far as known
    notes: list[str] = field(default_factory=list)
    _conditions: dict[str, bool | None] = field(default_factory=dict)

    def where(self, path: KeyPath) -> Location:
        return self.document.key_at(*path)

    def resolve(self, value: Any, path: KeyPath) -> Any:
        """``value`` (found at ``path``) with every intrinsic worked out or replaced by a placeholder."""
        if isinstance(value, dict):
            if len(value) == 1:
                (name, argument), = value.items()
                if name in _FUNCTIONS:
                    return self._function(name, argument, path + (name,))
            resolved = {key: self.resolve(item, path + (key,)) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            items = [self.resolve(item, path + (index,)) for index, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        return value

    def _placeholder(self, text: str, path: KeyPath) -> str:
        shown = f"<!{text}>"
        self.notes.append(f"{self.where(path)}: {shown} is known only to a deployed stack; fill it in")
        return shown

    def _function(self, name: str, argument: Any, path: KeyPath) -> Any:
        if name == "Ref":
            return self._ref(argument, path)
        if name == "Condition":
            decided = self.condition(argument, path)
            return decided if decided is not None else self._placeholder(f"Condition {argument}", path)
        if name == "Fn::If":  # only the branch taken is worked out
            return self._fn_if(argument, path)
        handler = getattr(self, "_fn_" + name.removeprefix("Fn::").lower(), None)
        argument = self.resolve(argument, path)
        if handler is not None:
            result = handler(argument, path)
            if result is not None:
                return result
        return self._placeholder(f"{name.removeprefix('Fn::')} {_shown(argument, name)}", path)

    def _ref(self, name: Any, path: KeyPath) -> Any:
        if not isinstance(name, str):
            raise UserError("Ref needs the name of a parameter or a resource", self.where(path))
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.unset:
            raise UserError(f"parameter {name} has no Default and no value was given", self.where(path),
                            f"give it with --parameter {name}=VALUE")
        if name in self.pseudo:
            return self.pseudo[name]
        if name in _KNOWN_PSEUDO:
            return _KNOWN_PSEUDO[name]
        if name.startswith("AWS::"):
            return self._placeholder(f"Ref {name}", path)
        if name in self.resources:
            if self.resources[name].startswith("AWS::OpsWorks::"):
                return name
            return self._placeholder(f"Ref {name}", path)
        raise UserError(f"Ref to {name}, which is neither a parameter nor a resource of the template",
                        self.where(path))

    def _fn_sub(self, argument: Any, path: KeyPath) -> str | None:
        text, variables = (argument[0], argument[1]) if isinstance(argument, list) and len(argument) == 2 \
            else (argument, {})
        if not isinstance(text, str) or not isinstance(variables, dict):
            return None

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is the text ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif "." in name and name.split(".", 1)[0] in self.resources:
                value = self._placeholder(f"GetAtt {name}", path)
            else:
                value = self._ref(name, path)
            return ",".join(value) if isinstance(value, list) else str(value)

        return _SUB_VARIABLE.sub(substitute, text)

    def _fn_join(self, argument: Any, path: KeyPath) -> str | None:
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list):
            return str(argument[0]).join(str(item) for item in argument[1])
        return None

    def _fn_select(self, argument: Any, path: KeyPath) -> Any:
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list):
            try:
                return argument[1][int(argument[0])]
            except (ValueError, IndexError):
                raise UserError(f"Fn::Select index {argument[0]} is not in the list", self.where(path)) from None
        return None

    def _fn_split(self, argument: Any, path: KeyPath) -> list[str] | None:
        if isinstance(argument, list) and len(argument) == 2 and all(isinstance(a, str) for a in argument):
            return argument[1].split(argument[0])
        return None

    def _fn_findinmap(self, argument: Any, path: KeyPath) -> Any:
        if not (isinstance(argument, list) and len(argument) == 3 and all(isinstance(a, str) for a in argument)):
            return None
        if any(is_placeholder(a) for a in argument):
            return None
        mappings = self.document.data.get("Mappings") or {}
        try:
            return self.resolve(mappings[argument[0]][argument[1]][argument[2]],
                                ("Mappings", argument[0], argument[1], argument[2]))
        except (KeyError, TypeError):
            raise UserError(f"Fn::FindInMap: no {'.'.join(argument)} in Mappings", self.where(path)) from None

    def _fn_if(self, argument: Any, path: KeyPath) -> Any:
        if not (isinstance(argument, list) and len(argument) == 3):
            raise UserError("Fn::If needs [condition, value if true, value if false]", self.where(path))
        decided = self.condition(argument[0], path + (0,))
        if decided is None:
            return self._placeholder(f"If {argument[0]}", path)
        branch = 1 if decided else 2
        return self.resolve(argument[branch], path + (branch,))

    def _fn_equals(self, argument: Any, path: KeyPath) -> bool | None:
        if isinstance(argument, list) and len(argument) == 2 and not any(map(is_placeholder, argument)):
            return str(argument[0]) == str(argument[1])
        return None

    def _fn_not(self, argument: Any, path: KeyPath) -> bool | None:
        if isinstance(argument, list) and len(argument) == 1 and isinstance(argument[0], bool):
            return not argument[0]
        return None

    def _fn_and(self, argument: Any, path: KeyPath) -> bool | None:
        if isinstance(argument, list) and all(isinstance(a, bool) for a in argument):
            return all(argument)
        return None

    def _fn_or(self, argument: Any, path: KeyPath) -> bool | None:
        if isinstance(argument, list) and all(isinstance(a, bool) for a in argument):
            return any(argument)
        return None

    def _fn_base64(self, argument: Any, path: KeyPath) -> str | None:
        if isinstance(argument, str) and not is_placeholder(argument):
            return base64.b64encode(argument.encode()).decode()
        return None

    def condition(self, name: Any, path: KeyPath) -> bool | None:
        """The value of the template's condition ``name``; None when it depends on a deployed stack."""
        if not isinstance(name, str):
            return None
        if name not in self._conditions:
            conditions = self.document.data.get("Conditions") or {}
            if name not in conditions:
                raise UserError(f"no condition {name} in Conditions", self.where(path))
            self._conditions[name] = None  # a condition that refers to itself stays undecided
            notes = len(self.notes)
            value = self.resolve(conditions[name], ("Conditions", name))
            del self.notes[notes:]  # the placeholders of an undecided condition say nothing useful
            self._conditions[name] = value if isinstance(value, bool) else None
        return self._conditions[name]


def _shown(argument: Any, name: str) -> str:
    if name == "Fn::GetAtt" and isinstance(argument, list):
        return ".".join(str(a) for a in argument)
    if isinstance(argument, str):
        return argument
    return json.dumps(argument, default=str)
