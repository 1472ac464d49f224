"""App source types as plugins: the registry, `runner plugins`, and a third-party type's keys checked with file:line."""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from runner import hookimpl
from runner.cookbooks.validate import load_and_validate
from runner.errors import UserError, UserErrors
from runner.plugin.manager import PluginOrigin, create_plugin_manager
from runner.plugin.registry import Registry
from runner.sources.api import AppSourceType, PreparedSource, SourceContext, SourceKey, SourceProblem, prepare_source
from runner.sources.tarpack import Packer, sha256

SOURCES_DIR = Path(__file__).resolve().parents[2] / "runner" / "sources"


class InlineSource(AppSourceType):
    """A third-party-style type: the release is one file whose text is written in stack.yml."""

    name = "inline"
    description = "one file, written in the stack file"
    keys = (
        SourceKey("file", required=True, description="the file's name in the release"),
        SourceKey("text", "scalar", required=True),
        SourceKey("mode", "integer", default=0o644),
        SourceKey("executable", "boolean"),
    )

    @classmethod
    def check(cls, options: Mapping[str, Any]) -> Iterable[SourceProblem]:
        if "/" in str(options.get("file", "")):
            yield SourceProblem("file", "an inline file lives at the top of the release", "drop the '/'")

    def prepare(self, source: SourceContext) -> PreparedSource:
        packer = Packer()
        mode = 0o755 if source.options.get("executable") else source.options["mode"]
        packer.add(source.options["file"], "file", mode, source.options["text"].encode())
        payload = packer.finish()
        return PreparedSource(self.name, f"inline {source.options['file']}", None, sha256(payload), payload, None)


class InlinePlugin:
    @hookimpl
    def runner_app_sources(self) -> list[type[AppSourceType]]:
        return [InlineSource]


class ClashingPlugin:
    class Git(InlineSource):
        name = "git"

    @hookimpl
    def runner_app_sources(self) -> list[type[AppSourceType]]:
        return [self.Git]


def registry_with(plugin: object, name: str) -> Registry:
    pm, origins = create_plugin_manager()
    pm.register(plugin, name=name)
    origins[name] = PluginOrigin(name, f"runner-{name}", "0.1", f"tests.{name}", builtin=False)
    return Registry(pm, origins)


@pytest.fixture
def registry() -> Registry:
    return registry_with(InlinePlugin(), "inline-source")


def declarations(registry: Registry) -> dict[str, Any]:
    return {name: kind.declaration() for name, kind in registry.app_sources.items()}


def stack_file(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "stack.yml"
    path.write_text(textwrap.dedent("""\
        stack: {name: demo}
        layers: {app: {}}
        apps:
          hello:
            layers: [app]
            source: %s
        """) % source)
    return path


def errors_of(registry: Registry, path: Path) -> list[str]:
    with pytest.raises(UserErrors) as info:
        load_and_validate(path.name, known_sources=declarations(registry))
    return [str(e) for e in info.value.errors]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- registration -----------------------------------------------------------------


def test_builtin_source_types_come_from_the_sources_plugin() -> None:
    registry = Registry.load()
    assert list(registry.app_sources) == ["directory", "archive", "git", "s3"]
    info = next(p for p in registry.plugins if p.origin.name == "sources")
    assert info.origin.builtin and info.origin.module == "runner.sources.plugin"
    assert info.app_sources == ["directory", "archive", "git", "s3"]
    assert "runner_app_sources" in info.hooks


def test_runner_plugins_lists_the_source_types() -> None:
    run = [sys.executable, "-m", "runner", "plugins"]
    data = json.loads(subprocess.run(run + ["--format", "json"], capture_output=True, text=True, check=True).stdout)
    assert next(p for p in data if p["name"] == "sources")["app_sources"] == ["directory", "archive", "git", "s3"]
    assert all(p["app_sources"] == [] for p in data if p["name"] != "sources")
    text = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    line = next(line for line in text.splitlines() if line.startswith("sources "))
    assert "app sources: directory, archive, git, s3" in line


def test_a_plugin_object_adds_a_source_type(registry: Registry) -> None:
    assert registry.app_sources["inline"] is InlineSource
    info = next(p for p in registry.plugins if p.origin.name == "inline-source")
    assert info.app_sources == ["inline"]


def test_a_source_type_name_registered_twice_is_refused() -> None:
    with pytest.raises(UserError) as info:
        registry_with(ClashingPlugin(), "clash")
    assert str(info.value) == ("app source type 'git' is added by both plugin 'sources' and plugin 'clash' "
                               "(disable one of them with -p no:clash)")


def test_declaration_is_plain_data_of_the_class() -> None:
    declaration = InlineSource.declaration()
    assert declaration.name == "inline" and not declaration.remote_fetch
    assert [(k.name, k.type, k.required, k.default) for k in declaration.keys] == [
        ("file", "string", True, None), ("text", "scalar", True, None), ("mode", "integer", False, 0o644),
        ("executable", "boolean", False, None),
    ]
    with pytest.raises(ValueError, match="type 'float' is not one of"):
        SourceKey("x", "float")


# -- validation of a third-party type's keys -------------------------------------------


def test_third_party_source_is_read_with_defaults(registry: Registry, in_tmp: Path) -> None:
    path = stack_file(in_tmp, "{type: inline, file: run.sh, text: 42}")
    stack = load_and_validate(path.name, known_sources=declarations(registry))
    assert stack.apps["hello"].source.options == {"file": "run.sh", "text": "42", "mode": 0o644}


@pytest.mark.parametrize("source, expected", [
    ("{type: inline, file: a, text: t, mdoe: 1}",
     ["stack.yml:6:46: apps.hello.source: unknown key 'mdoe' (did you mean 'mode'?)"]),
    ("{type: inline, file: a}",
     ["stack.yml:6:5: apps.hello.source: missing required key 'text'"]),
    ("{type: inline, file: a, text: t, mode: '644'}",
     ["stack.yml:6:52: apps.hello.source.mode: expected an integer, got string '644'"]),
    ("{type: inline, file: a, text: t, executable: yes please}",
     ["stack.yml:6:58: apps.hello.source.executable: expected a boolean (true or false), got string 'yes please'"]),
    ("{type: inline, file: a, text: t, fetch: remote}",
     ["stack.yml:6:53: apps.hello.source.fetch: source type 'inline' does not support 'fetch: remote'"]),
    ("{type: inline, file: bin/a, text: t}",
     ["stack.yml:6:34: apps.hello.source.file: an inline file lives at the top of the release (drop the '/')"]),
    ("{type: inlien, file: a, text: t}",
     ["stack.yml:6:20: apps.hello.source.type: unknown app source type 'inlien' (did you mean 'inline'?)"]),
])
def test_third_party_source_keys_are_checked_with_file_line(registry: Registry, in_tmp: Path, source: str,
                                                            expected: list[str]) -> None:
    assert errors_of(registry, stack_file(in_tmp, source)) == expected


def test_unknown_type_lists_the_known_ones_including_plugins(registry: Registry, in_tmp: Path) -> None:
    assert errors_of(registry, stack_file(in_tmp, "{type: svn}")) == [
        "stack.yml:6:20: apps.hello.source.type: unknown app source type 'svn' "
        "(expected one of: directory, archive, git, s3, inline)"
    ]


def test_without_source_plugins_every_type_is_unknown(in_tmp: Path) -> None:
    path = stack_file(in_tmp, "{type: git, url: u}")
    with pytest.raises(UserErrors) as info:
        load_and_validate(path.name, known_sources={})
    assert [str(e) for e in info.value.errors] == [
        "stack.yml:6:20: apps.hello.source.type: unknown app source type 'git' (no app source plugin is loaded)"
    ]


def test_without_declarations_the_model_keeps_the_raw_keys(in_tmp: Path) -> None:
    path = stack_file(in_tmp, "{type: anything, path: rel, port: '22'}")
    source = load_and_validate(path.name).apps["hello"].source
    assert (source.type, source.options) == ("anything", {"path": "rel", "port": "22"})
    assert source.origin is not None and source.origin.path == ("apps", "hello", "source")


# -- deploy: prepare_source looks the type up ----------------------------------------------


def test_prepare_source_uses_the_plugin_type(registry: Registry, in_tmp: Path) -> None:
    path = stack_file(in_tmp, "{type: inline, file: run.sh, text: 'echo hi', executable: true}")
    stack = load_and_validate(path.name, known_sources=declarations(registry))
    prepared = prepare_source(stack.apps["hello"], stack, in_tmp / "cache", registry.app_sources)
    assert (prepared.type, prepared.description) == ("inline", "inline run.sh")
    with tarfile.open(fileobj=io.BytesIO(prepared.payload), mode="r:gz") as tar:
        member = tar.getmember("run.sh")
        assert member.mode == 0o755 and tar.extractfile(member).read() == b"echo hi"
    assert prepared.checksum == sha256(prepared.payload)


def test_prepare_source_of_an_unknown_type_says_which_are_known(registry: Registry, in_tmp: Path) -> None:
    path = stack_file(in_tmp, "{type: inline, file: a, text: t}")
    stack = load_and_validate(path.name, known_sources=declarations(registry))
    builtin_only = {name: kind for name, kind in registry.app_sources.items() if name != "inline"}
    with pytest.raises(UserError) as info:
        prepare_source(stack.apps["hello"], stack, in_tmp / "cache", builtin_only)
    assert str(info.value) == ("stack.yml:6:20: unknown app source type 'inline' "
                               "(expected one of: directory, archive, git, s3)")


# -- the part's imports -------------------------------------------------------------


def test_runner_sources_imports_no_layer_above_it() -> None:
    allowed = ("runner.errors", "runner.model", "runner.sources", "runner.ssh", "runner.providers")
    for module in sorted(SOURCES_DIR.glob("*.py")):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                if name == "runner" or name.startswith("runner."):
                    assert name.startswith(allowed) or (name == "runner" and module.name == "plugin.py"), \
                        f"{module.name} imports {name}"
