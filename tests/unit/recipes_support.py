"""Helpers for the recipe tests: fake resource types with the real types' arguments, and a tiny stack.

The real built-in types live in runner/resources/builtin; these fakes only
declare the same arguments and actions, and prepare like them (render a
template, read a cookbook file), so the compiler is tested on its own.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from runner.cookbooks import CookbookSet, load_cookbook
from runner.model.stack import App, AppSource, EnvValue, Instance, Layer, Stack
from runner.recipes import InstanceView, RunContext
from runner.resources.api import Change, Resource, Step


class Fake(Resource):
    def probe(self) -> str:
        return "true"

    def parse(self, output: str) -> Any:
        return output

    def diff(self, state: Any) -> list[Change]:
        return []

    def apply(self, state: Any, changes: list[Change]) -> Step:
        return Step("true")


class FakeFile(Fake):
    type_name = "file"
    actions = ("create", "delete")
    properties = {"content": None, "source": None, "owner": None, "group": None, "mode": None}

    def prepare(self, ctx) -> None:
        if self.args["source"]:
            self.content: bytes | str | None = ctx.read_file(self.args["source"])
        else:
            self.content = self.args["content"]


class FakeDirectory(Fake):
    type_name = "directory"
    actions = ("create", "delete")
    properties = {"owner": None, "group": None, "mode": None, "recursive": True}


class FakeTemplate(Fake):
    type_name = "template"
    actions = ("create", "delete")
    properties = {"source": None, "variables": None, "owner": None, "group": None, "mode": None}

    def prepare(self, ctx) -> None:
        self.content = ctx.render_template(self.args["source"], self.args["variables"] or {})


class FakeLink(Fake):
    type_name = "link"
    actions = ("create", "delete")
    properties = {"to": None}


class FakeExecute(Fake):
    type_name = "execute"
    actions = ("run", "nothing")
    default_action = "run"
    properties = {"cwd": None, "environment": None, "user": None, "creates": None, "returns": (0,)}


class FakePackage(Fake):
    type_name = "package"
    actions = ("install", "upgrade", "remove")
    default_action = "install"
    properties = {"version": None}

    def __init__(self, name: str | list[str], **kwargs: Any) -> None:
        self.names = [name] if isinstance(name, str) else list(name)
        super().__init__(" ".join(self.names), **kwargs)


class FakeService(Fake):
    type_name = "service"
    actions = ("enable", "start", "stop", "restart", "reload", "disable", "nothing")
    default_action = ("enable", "start")


class FakeUser(Fake):
    type_name = "user"
    actions = ("create", "remove")
    properties = {"uid": None, "gid": None, "home": None, "shell": None, "system": False}


class FakeGroup(Fake):
    type_name = "group"
    actions = ("create", "remove")
    properties = {"gid": None, "members": None}


TYPES: dict[str, type[Resource]] = {
    cls.type_name: cls
    for cls in (FakeFile, FakeDirectory, FakeTemplate, FakeLink, FakeExecute, FakePackage, FakeService, FakeUser,
                FakeGroup)
}


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def make_stack(tmp_path: Path, **overrides: Any) -> Stack:
    """Layers web (app1, app2) and db (db1); one app 'shop' on web with a secure password."""
    layers = {
        "web": Layer("web", {"setup": ("web",)}, packages=("curl",), custom_json={"web": {"port": 81}}),
        "db": Layer("db", {}, custom_json={"web": {"port": 82}}),
    }
    instances = {
        "app1": Instance("app1", ("web",), "app1", custom_json={"web": {"workers": 4}}),
        "app2": Instance("app2", ("web",), "app2"),
        "db1": Instance("db1", ("db", "web"), "db1"),
    }
    apps = {
        "shop": App(
            "shop",
            ("web",),
            AppSource("git", {"url": "https://example.com/shop.git", "revision": "main"}),
            {
                "GREETING": EnvValue("hi"),
                "DB_PASSWORD": EnvValue("s3cr3t-pw", secure=True),
                "PIN": EnvValue("12", secure=True),  # too short to hunt for
            },
            custom_json={"document_root": "public"},
        )
    }
    values: dict[str, Any] = {
        "name": "demo",
        "path": tmp_path / "stack.yml",
        "custom_json": {"web": {"port": 80, "name": "stack"}, "env": "prod"},
        "layers": layers,
        "instances": instances,
        "apps": apps,
    }
    values.update(overrides)
    return Stack(**values)


def views(stack: Stack, offline: tuple[str, ...] = ()) -> list[InstanceView]:
    return [
        InstanceView(i.name, i.hostname, i.layers, None if i.name in offline else f"10.0.0.{n}",
                     "stopped" if i.name in offline else "online")
        for n, i in enumerate(stack.instances.values(), start=1)
    ]


def make_context(tmp_path: Path, instance: str = "app1", event: str = "setup", **kwargs: Any) -> RunContext:
    """A context over the cookbooks written under tmp_path/cookbooks."""
    stack = kwargs.pop("stack", None) or make_stack(tmp_path)
    root = tmp_path / "cookbooks"
    found = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    books = CookbookSet(load_cookbook(p) for p in found)
    return RunContext(
        stack=stack,
        instance=stack.instances[instance],
        instances=kwargs.pop("instances", None) or views(stack),
        event=event,
        cookbooks=books,
        resource_types=kwargs.pop("resource_types", TYPES),
        **kwargs,
    )
