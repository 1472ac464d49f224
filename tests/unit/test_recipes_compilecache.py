"""Hosts whose compile would read the same values compile once per run; each other host its own."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from runner.cookbooks.resolve import load_cookbooks
from runner.lifecycle import EventCompiler, instance_views, plan_run
from runner.model.loader import load_stack
from runner.plugin.registry import Registry
from runner.providers.api import ONLINE, HostAddress, InstanceState


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def compiler_for(tmp_path: Path, registry: Registry, recipe: str, instances: dict[str, dict[str, Any]],
                 template: str | None = None) -> tuple[EventCompiler, Any]:
    book = tmp_path / "books" / "app"
    (book / "recipes").mkdir(parents=True)
    (book / "recipes" / "default.py").write_text(textwrap.dedent(recipe))
    if template is not None:
        (book / "templates").mkdir()
        (book / "templates" / "t.conf.j2").write_text(template)
    doc = {"stack": {"name": "cache", "provider": "docker", "cookbooks": [{"path": str(tmp_path / "books")}]},
           "layers": {"web": {"recipes": {"configure": ["app"]}}},
           "instances": {name: {"layers": ["web"], **extra} for name, extra in instances.items()}}
    (tmp_path / "stack.yml").write_text(json.dumps(doc))
    stack = load_stack(tmp_path / "stack.yml")
    states = [InstanceState(n, ONLINE, HostAddress(n, n, f"10.0.0.{i}", 22)) for i, n in enumerate(stack.instances, 1)]
    builder = EventCompiler(stack, registry, load_cookbooks(stack, registry), instance_views(stack, states), {})
    return builder, stack


def contents(builder: EventCompiler, stack: Any) -> dict[str, list[tuple[str, Any]]]:
    out = {}
    for name, inst in stack.instances.items():
        out[name] = [(r.key, getattr(r, "content", None)) for r in builder.configure(inst)
                     if r.type_name in ("file", "template")]
    return out


def test_identical_hosts_compile_once(tmp_path: Path, registry: Registry) -> None:
    recipe = """\
        for i in range(5):
            file(f"/srv/f{i}", content=f"{i} {node['app']['port']}")
        """
    builder, stack = compiler_for(tmp_path, registry, recipe,
                                  {f"i{n}": {"custom_json": {"app": {"port": 80}}} for n in range(20)})
    got = contents(builder, stack)
    assert builder.compile_cache.compiles == 1 and builder.compile_cache.hits == 19
    assert all(v == got["i0"] for v in got.values())
    assert got["i0"][0] == ("file[/srv/f0]", b"0 80")
    first, second = (builder.configure(stack.instances[n]) for n in ("i0", "i1"))
    assert first[0] is not second[0]  # every host has resources of its own (copies)


def test_attributes_no_recipe_reads_are_shared_and_read_ones_are_not(tmp_path: Path, registry: Registry) -> None:
    recipe = """\
        file("/srv/port", content=str(node["app"]["port"]))
        if "debug" in node["app"]:
            file("/srv/debug", content="on")
        """
    instances = {
        "a": {"custom_json": {"app": {"port": 80}, "owner": "ann"}},
        "b": {"custom_json": {"app": {"port": 80}, "owner": "bob"}},  # differs in what is never read
        "c": {"custom_json": {"app": {"port": 81}}},
        "d": {"custom_json": {"app": {"port": 80, "debug": True}}},
        "e": {"custom_json": {"app": {"port": 80.0}}},  # prints differently: a value of another type
    }
    builder, stack = compiler_for(tmp_path, registry, recipe, instances)
    got = contents(builder, stack)
    assert builder.compile_cache.compiles == 4 and builder.compile_cache.hits == 1
    assert got["a"] == got["b"] == [("file[/srv/port]", b"80")]
    assert got["c"] == [("file[/srv/port]", b"81")]
    assert got["d"] == [("file[/srv/port]", b"80"), ("file[/srv/debug]", b"on")]
    assert got["e"] == [("file[/srv/port]", b"80.0")]


def test_a_recipe_reading_its_own_instance_compiles_per_host(tmp_path: Path, registry: Registry) -> None:
    recipe = """\
        file("/etc/motd", content=f"{instance.hostname} in {instance.layers}")
        """
    builder, stack = compiler_for(tmp_path, registry, recipe, {f"i{n}": {} for n in range(4)})
    got = contents(builder, stack)
    assert builder.compile_cache.compiles == 4 and builder.compile_cache.hits == 0
    assert [v[0][1] for v in got.values()] == [f"{stack.instances[n].hostname} in ('web',)".encode() for n in got]


def test_reading_only_the_layers_of_its_instance_is_shared(tmp_path: Path, registry: Registry) -> None:
    recipe = """\
        file("/etc/role", content=",".join(instance.layers) + " " + layer.name)
        """
    builder, stack = compiler_for(tmp_path, registry, recipe, {f"i{n}": {} for n in range(4)})
    got = contents(builder, stack)
    assert builder.compile_cache.compiles == 1
    assert all(v == [("file[/etc/role]", b"web web")] for v in got.values())


def test_which_instance_is_self_is_per_host(tmp_path: Path, registry: Registry) -> None:
    recipe = """\
        peers = [i.address for i in instances if not i.is_self]
        file("/etc/peers", content=" ".join(peers))
        everyone = [i.address for i in layers["web"].instances]
        file("/etc/all", content=" ".join(everyone))
        """
    builder, stack = compiler_for(tmp_path, registry, recipe, {f"i{n}": {} for n in range(3)})
    got = contents(builder, stack)
    assert builder.compile_cache.compiles == 3
    assert got["i0"][0] == ("file[/etc/peers]", b"10.0.0.2 10.0.0.3")
    assert got["i2"][0] == ("file[/etc/peers]", b"10.0.0.1 10.0.0.2")
    assert got["i1"][1] == ("file[/etc/all]", b"10.0.0.1 10.0.0.2 10.0.0.3")


def test_listing_the_instances_without_is_self_is_shared(tmp_path: Path, registry: Registry) -> None:
    recipe = """\
        file("/etc/all", content=" ".join(f"{i.name}={i.address}" for i in instances))
        """
    builder, stack = compiler_for(tmp_path, registry, recipe, {f"i{n}": {} for n in range(3)})
    got = contents(builder, stack)
    assert builder.compile_cache.compiles == 1
    assert all(v == [("file[/etc/all]", b"i0=10.0.0.1 i1=10.0.0.2 i2=10.0.0.3")] for v in got.values())


def test_templates_reads_are_recorded_too(tmp_path: Path, registry: Registry) -> None:
    recipe = """\
        template("/etc/app.conf", source="t.conf.j2")
        """
    template = "port={{ node.app.port }}{% for k in node.app %} {{ k }}{% endfor %}\n"
    instances = {"a": {"custom_json": {"app": {"port": 1}}}, "b": {"custom_json": {"app": {"port": 1}}},
                 "c": {"custom_json": {"app": {"port": 2}}}, "d": {"custom_json": {"app": {"port": 1, "x": 0}}}}
    builder, stack = compiler_for(tmp_path, registry, recipe, instances, template)
    got = contents(builder, stack)
    assert builder.compile_cache.compiles == 3
    assert got["a"] == got["b"] == [("template[/etc/app.conf]", b"port=1 port\n")]
    assert got["c"] == [("template[/etc/app.conf]", b"port=2 port\n")]
    assert got["d"] == [("template[/etc/app.conf]", b"port=1 port x\n")]


def test_a_template_naming_its_host_is_per_host(tmp_path: Path, registry: Registry) -> None:
    builder, stack = compiler_for(tmp_path, registry, 'template("/etc/h", source="t.conf.j2")\n',
                                  {f"i{n}": {} for n in range(3)}, "{{ instance.name }}\n")
    got = contents(builder, stack)
    assert builder.compile_cache.compiles == 3
    assert [v[0][1] for v in got.values()] == [b"i0\n", b"i1\n", b"i2\n"]


def test_a_data_bag_is_per_host(tmp_path: Path, registry: Registry) -> None:
    recipe = """\
        me = [item for item in databag("aws_opsworks_instance") if item["self"]]
        file("/etc/me", content=me[0]["hostname"])
        """
    builder, stack = compiler_for(tmp_path, registry, recipe, {f"i{n}": {} for n in range(3)})
    got = contents(builder, stack)
    assert builder.compile_cache.compiles == 3
    assert len({v[0][1] for v in got.values()}) == 3


def test_plan_run_compiles_identical_hosts_once(tmp_path: Path, registry: Registry,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import runner.recipes.compiler as compiler

    runs = []
    real = compiler._compile
    monkeypatch.setattr(compiler, "_compile", lambda *args: runs.append(1) or real(*args))
    builder, stack = compiler_for(tmp_path, registry, 'file("/srv/x", content="x")\n',
                                  {f"i{n}": {} for n in range(30)})
    states = [InstanceState(n, ONLINE, HostAddress(n, n, "127.0.0.1", 22)) for n in stack.instances]
    plan = plan_run(stack, registry, "converge", list(stack.instances), states=states)
    assert len(plan.jobs) == 30
    assert len(runs) == 2  # the setup event's run list and the configure event's, once each
    assert all([r.key for r in job.resources] == ["file[/srv/x]"] for job in plan.jobs)
