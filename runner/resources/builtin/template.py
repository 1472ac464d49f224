"""``template``: a file whose content is a Jinja2 template of the cookbook, rendered when declared.

Everything else (probe, diff, atomic write, metadata) is :class:`File`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from runner.resources.api import CompileContext, ResourceError
from runner.resources.builtin.file import File


class Template(File):
    type_name = "template"
    properties: ClassVar[dict[str, Any]] = {"source": None, "variables": None, "owner": None, "group": None,
                                            "mode": None}

    def validate_content(self) -> None:
        source, variables = self.args["source"], self.args["variables"]
        if "delete" not in self.action and (not isinstance(source, str) or not source):
            raise ResourceError(f"{self.key}: source (a template under the cookbook's templates/) is required")
        if source is not None and not isinstance(source, str):
            raise ResourceError(f"{self.key}: source must be a template name, got {source!r}")
        if variables is not None and not isinstance(variables, Mapping):
            raise ResourceError(f"{self.key}: variables must be a mapping, got {type(variables).__name__}")
        self.manages_content = source is not None
        self.content = None

    def prepare(self, ctx: CompileContext) -> None:
        if self.manages_content and self.content is None:
            text = ctx.render_template(self.args["source"], dict(self.args["variables"] or {}))
            self.content = text.encode("utf-8") if isinstance(text, str) else text
