"""Plugin loading: built-ins, a third-party distribution found through its entry point, blocking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from runner.cli.main import main, split_plugin_flags
from runner.errors import UserError
from runner.plugin.manager import BUILTIN_PLUGINS, disabled_from_env
from runner.plugin.registry import Registry

PLUGIN_MODULE = '''
from runner import hookimpl
from runner.cli.api import Command
from runner.providers.api import Provider
from runner.resources.api import Resource


class ThrowawayProvider(Provider):
    name = "{name}-provider"

    def status(self, names=None):
        return []

    start = stop = status


class CronResource(Resource):
    type_name = "{name}_cron"

    def probe(self):
        return "true"

    def parse(self, output):
        return output

    def diff(self, state):
        return []

    def apply(self, state, changes):
        raise NotImplementedError


class Hello(Command):
    name = "{name}-hello"
    help = "say hello from a third-party plugin"
    stack_options = False

    def run(self, args, ctx):
        ctx.out.write("hello from {name}\\n")
        return 0


@hookimpl
def runner_providers():
    return [ThrowawayProvider]


@hookimpl
def runner_resource_types():
    return [CronResource]


@hookimpl
def runner_commands():
    return [Hello()]
{extra}
'''


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                   check=True, capture_output=True, timeout=180)


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Build and pip-install a throwaway plugin distribution into a directory of its own.

    The directory goes on PYTHONPATH of the `runner` subprocesses, where the
    plugin is found through its entry point like any installed distribution;
    the test environment itself is never changed, so concurrent runs and a
    killed test cannot leave a broken plugin behind.
    """
    site = tmp_path / "site"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))

    def install(extra: str = "") -> str:
        name = f"throwaway{uuid.uuid4().hex[:8]}"
        src = tmp_path / name
        (src / f"runner_{name}").mkdir(parents=True)
        (src / f"runner_{name}" / "__init__.py").write_text(PLUGIN_MODULE.format(name=name, extra=extra))
        (src / "pyproject.toml").write_text(textwrap.dedent('''
            [build-system]
            requires = ["setuptools>=64"]
            build-backend = "setuptools.build_meta"
        '''))
        (src / "setup.cfg").write_text(textwrap.dedent(f'''
            [metadata]
            name = runner-{name}
            version = 1.2.3

            [options]
            packages = runner_{name}

            [options.entry_points]
            runner =
                {name} = runner_{name}
        '''))
        _pip("install", "--no-deps", "--no-build-isolation", "--target", str(site), str(src))
        return name

    return install


def _runner(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_builtins_are_registered_like_any_plugin() -> None:
    registry = Registry.load()
    names = [p.origin.name for p in registry.plugins]
    for name, module in BUILTIN_PLUGINS:
        assert name in names
        info = next(p for p in registry.plugins if p.origin.name == name)
        assert info.origin.module == module and info.origin.distribution == "opsrunner" and info.origin.builtin
    assert registry.providers["static"].__module__ == "runner.providers.static"
    assert {"validate", "plugins", "instances"} <= set(registry.commands)


def test_third_party_distribution_found_through_entry_point(install_plugin) -> None:
    name = install_plugin()
    proc = _runner("plugins", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    plugins = {p["name"]: p for p in json.loads(proc.stdout)}
    mine = plugins[name]
    assert mine["distribution"] == f"runner-{name}" and mine["version"] == "1.2.3" and not mine["builtin"]
    assert mine["providers"] == [f"{name}-provider"]
    assert mine["resource_types"] == [f"{name}_cron"]
    assert mine["commands"] == [f"{name}-hello"]
    text = _runner("plugins").stdout
    assert f"runner-{name} 1.2.3" in text and f"providers: {name}-provider" in text
    hello = _runner(f"{name}-hello")
    assert hello.returncode == 0 and hello.stdout == f"hello from {name}\n"


def test_blocked_plugin_stays_out(install_plugin) -> None:
    name = install_plugin()
    by_env = json.loads(_runner("plugins", "--format", "json", env={"RUNNER_DISABLE_PLUGINS": f"static,{name}"}).stdout)
    assert {p["name"] for p in by_env}.isdisjoint({name, "static"})
    by_flag = _runner("-p", f"no:{name}", "plugins", "--format", "json")
    assert name not in {p["name"] for p in json.loads(by_flag.stdout)}
    # its command is gone too
    assert _runner("-p", f"no:{name}", f"{name}-hello").returncode == 2


def test_unknown_hook_is_reported_with_suggestion(install_plugin) -> None:
    name = install_plugin(extra="\n@hookimpl\ndef runner_resouce_types():\n    return []\n")
    proc = _runner("plugins")
    assert proc.returncode == 2
    assert f"plugin {name!r} implements unknown hook 'runner_resouce_types'" in proc.stderr
    assert "did you mean 'runner_resource_types'?" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_plugin_that_fails_to_import_is_a_clear_error(install_plugin) -> None:
    name = install_plugin(extra="\nraise RuntimeError('boom at import')\n")
    proc = _runner("plugins")
    assert proc.returncode == 2
    assert f"plugin {name!r} from runner-{name} failed to load: RuntimeError: boom at import" in proc.stderr
    assert f"-p no:{name}" in proc.stderr and "Traceback" not in proc.stderr
    assert _runner("-p", f"no:{name}", "plugins").returncode == 0


def test_same_name_from_two_plugins_is_refused(install_plugin) -> None:
    # redefines the module's runner_providers so that it also claims 'static'
    name = install_plugin(extra="\nclass Static(ThrowawayProvider):\n    name = 'static'\n\n"
                                "@hookimpl\ndef runner_providers():\n    return [ThrowawayProvider, Static]\n")
    proc = _runner("plugins")
    assert proc.returncode == 2
    assert f"provider 'static' is added by both plugin 'static' and plugin {name!r}" in proc.stderr


@pytest.mark.parametrize("argv, disabled, rest", [
    (["-p", "no:docker", "plugins"], ["docker"], ["plugins"]),
    (["-pno:a", "-p", "no:b", "validate", "-f", "x.yml"], ["a", "b"], ["validate", "-f", "x.yml"]),
    (["plugins", "--format", "json"], [], ["plugins", "--format", "json"]),
])
def test_split_plugin_flags(argv, disabled, rest) -> None:
    assert split_plugin_flags(argv) == (disabled, rest)


def test_bad_plugin_flag() -> None:
    with pytest.raises(UserError, match="expected -p no:NAME"):
        split_plugin_flags(["-p", "docker"])


def test_disabled_from_env() -> None:
    assert disabled_from_env({"RUNNER_DISABLE_PLUGINS": " a, ,b "}) == ["a", "b"]
    assert disabled_from_env({}) == []


def test_essential_and_unknown_names_cannot_be_blocked(capsys) -> None:
    assert main(["-p", "no:plugins", "plugins"]) == 2
    assert "essential" in capsys.readouterr().err
    assert main(["-p", "no:statik", "plugins"]) == 2
    assert "did you mean 'static'?" in capsys.readouterr().err


def test_unknown_provider_lookup_suggests() -> None:
    with pytest.raises(UserError) as exc:
        Registry.load().provider("statc")
    assert "unknown provider 'statc'" in str(exc.value) and "did you mean 'static'?" in str(exc.value)


def test_run_hook_failure_is_a_warning(capsys) -> None:
    registry = Registry.load()

    class Broken:
        @staticmethod
        def runner_host_failed(host, error):
            raise RuntimeError("handler broke")

    from runner import hookimpl
    Broken.runner_host_failed = hookimpl(Broken.runner_host_failed)
    registry.pm.register(Broken(), name="broken-handler")
    registry.notify("runner_host_failed", host="h1", error="down", result=None)
    assert "plugin 'broken-handler' failed in runner_host_failed: handler broke" in capsys.readouterr().err
