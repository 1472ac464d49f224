"""Check and build the ``apps`` entries of a stack file (source, environment, deploy)."""

from __future__ import annotations

import re
from typing import Any

from runner.model.databases import data_source_refs
from runner.model.fields import Checker, Invalid, describe, suggest
from runner.model.sections import layer_refs
from runner.model.stack import App, AppSource, BalancerSettings, DeploySettings, EnvValue, HealthCheck
from runner.model.yamlsource import KeyPath, Located

APP_KEYS: tuple[str, ...] = ("layers", "source", "environment", "deploy", "custom_json", "data_sources")
DEPLOY_KEYS: tuple[str, ...] = (
    "strategy", "batch", "keep_releases", "max_failures", "health_check", "options", "load_balancer",
)
BALANCER_KEYS: tuple[str, ...] = ("type", "layer", "backend", "options")
DEFAULT_BALANCER_LAYER = "lb"
HEALTH_CHECK_KEYS: tuple[str, ...] = ("command", "timeout", "retries", "interval")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PERCENT = re.compile(r"^(\d{1,3})%$")


def build_app(check: Checker, name: str, raw: Any, layers: list[str],
              databases: list[str] | None = None) -> App | None:
    """An :class:`App` from ``apps.<name>``, or None when its source is unusable (reported).

    :param databases: the names of ``stack.databases``, which ``data_sources`` may name.
    """
    path: KeyPath = ("apps", name)
    check.attempt(check.name, path, name, "app")
    raw = check.attempt(check.mapping, path, raw, APP_KEYS, ("layers", "source"), default={})
    source = check.get(raw, path + ("source",), lambda p, v: _source(check, p, v))
    app_layers = check.get(raw, path + ("layers",), lambda p, v: layer_refs(check, p, v, layers), ())
    environment = check.get(raw, path + ("environment",), lambda p, v: _environment(check, p, v), {})
    deploy = check.get(raw, path + ("deploy",), lambda p, v: _deploy(check, p, v, layers, app_layers))
    if deploy is None:
        deploy = DeploySettings(load_balancer=default_balancer(layers, app_layers))
    custom_json = check.get(raw, path + ("custom_json",), check.free_mapping, {})
    data_sources = check.get(raw, path + ("data_sources",),
                             lambda p, v: data_source_refs(check, p, v, list(databases or ())), ())
    if source is None:
        return None
    return App(name, app_layers, source, environment, deploy, custom_json, location=check.key_at(path),
               data_sources=data_sources)


def _source(check: Checker, path: KeyPath, value: Any) -> AppSource:
    """What every source has: a ``type`` (a string) and other keys, kept raw with where they were written.

    The keys are checked against the type's declaration by
    :func:`runner.model.sources.check_app_source` once the source types are known.
    """
    raw = check.mapping(path, value, required=("type",))
    if "type" not in raw:
        raise Invalid()
    kind = check.string(path + ("type",), raw["type"])
    options = {key: item for key, item in raw.items() if key != "type"}
    return AppSource(kind, options, origin=Located(check.doc, path))


def _environment(check: Checker, path: KeyPath, value: Any) -> dict[str, EnvValue]:
    raw = check.mapping(path, value, allow_null=True)
    result: dict[str, EnvValue] = {}
    for name, item in raw.items():
        if not _ENV_NAME.match(name):
            check.fail(path + (name,), f"invalid environment variable name '{name}'", at_key=True)
            continue
        found = check.attempt(_env_value, check, path + (name,), item)
        if found is not None:
            result[name] = found
    return result


def _env_value(check: Checker, path: KeyPath, value: Any) -> EnvValue:
    if isinstance(value, dict):
        raw = check.mapping(path, value, ("value", "secure"), required=("value",))
        text = _env_text(check, path + ("value",), raw.get("value", ""))
        secure = check.get(raw, path + ("secure",), check.boolean, False)
        encrypted = path + ("value",) in check.doc.encrypted
        return EnvValue(text, secure or encrypted, encrypted)
    encrypted = path in check.doc.encrypted  # decrypted by now: secure, whatever else it says
    return EnvValue(_env_text(check, path, value), encrypted, encrypted)


def _env_text(check: Checker, path: KeyPath, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise check.fail(path, f"expected a string, number, boolean or {{value, secure}}, got {describe(value)}")


def _deploy(check: Checker, path: KeyPath, value: Any, layers: list[str],
            app_layers: tuple[str, ...]) -> DeploySettings:
    raw = check.mapping(path, value, DEPLOY_KEYS, allow_null=True)
    defaults = DeploySettings()
    balancer = default_balancer(layers, app_layers)
    return DeploySettings(
        strategy=check.get(raw, path + ("strategy",), check.string, defaults.strategy),
        batch=check.get(raw, path + ("batch",), lambda p, v: _batch(check, p, v), defaults.batch),
        keep_releases=check.get(
            raw, path + ("keep_releases",), lambda p, v: check.integer(p, v, minimum=1), defaults.keep_releases
        ),
        max_failures=check.get(
            raw, path + ("max_failures",), lambda p, v: check.integer(p, v, minimum=0), defaults.max_failures
        ),
        health_check=check.get(raw, path + ("health_check",), lambda p, v: _health_check(check, p, v)),
        options=check.get(raw, path + ("options",), check.free_mapping, {}),
        load_balancer=check.get(
            raw, path + ("load_balancer",), lambda p, v: _balancer(check, p, v, layers, app_layers), balancer
        ),
    )


def default_balancer(layers: list[str], app_layers: tuple[str, ...]) -> BalancerSettings | None:
    """HAProxy on layer ``lb`` in front of the app's first layer, when the stack has an ``lb``
    layer the app does not run on; else no balancer."""
    if DEFAULT_BALANCER_LAYER in layers and DEFAULT_BALANCER_LAYER not in app_layers and app_layers:
        return BalancerSettings(layer=DEFAULT_BALANCER_LAYER, backend=app_layers[0])
    return None


def _balancer(check: Checker, path: KeyPath, value: Any, layers: list[str],
              app_layers: tuple[str, ...]) -> BalancerSettings | None:
    """``load_balancer: false`` (none), ``true`` or a mapping of :data:`BALANCER_KEYS` (defaults filled in)."""
    if value is False:
        return None
    raw = {} if value is True else check.mapping(path, value, BALANCER_KEYS, allow_null=True)
    defaults = BalancerSettings()
    kind = check.get(raw, path + ("type",), check.string, defaults.type)
    layer = check.get(raw, path + ("layer",), lambda p, v: _balancer_layer(check, p, v, layers, app_layers))
    if "layer" not in raw:
        if DEFAULT_BALANCER_LAYER not in layers or DEFAULT_BALANCER_LAYER in app_layers:
            lb = DEFAULT_BALANCER_LAYER
            message = (f"no layer '{lb}' to run the load balancer" if lb not in layers
                       else f"the app runs on layer '{lb}' itself, so the load balancer needs another layer")
            raise check.fail(path, message,
                             "name the balancer's layer with 'layer:', or write 'load_balancer: false'",
                             at_key=True)
        layer = DEFAULT_BALANCER_LAYER
    backend = check.get(raw, path + ("backend",), check.string, app_layers[0] if app_layers else "")
    options = check.get(raw, path + ("options",), check.free_mapping, {})
    if layer is None or not backend:
        raise Invalid()
    return BalancerSettings(kind, layer, backend, options)


def _balancer_layer(check: Checker, path: KeyPath, value: Any, layers: list[str],
                    app_layers: tuple[str, ...]) -> str:
    layer = check.string(path, value)
    if layer not in layers:
        raise check.fail(path, f"unknown layer '{layer}'", suggest(layer, layers))
    if layer in app_layers:
        raise check.fail(path, f"layer '{layer}' runs the app itself; the load balancer needs a layer of its own")
    return layer


def _batch(check: Checker, path: KeyPath, value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return check.integer(path, value, minimum=1)
    match = _PERCENT.match(value) if isinstance(value, str) else None
    if not match:
        raise check.expected(path, "an integer or a percentage such as '30%'", value)
    if not 1 <= int(match.group(1)) <= 100:
        raise check.fail(path, f"percentage must be between 1% and 100%, got {value}")
    return value


def _health_check(check: Checker, path: KeyPath, value: Any) -> HealthCheck:
    raw = check.mapping(path, value, HEALTH_CHECK_KEYS, required=("command",))
    defaults = HealthCheck("")
    command = check.get(raw, path + ("command",), check.string)
    timeout = check.get(raw, path + ("timeout",), lambda p, v: check.number(p, v, minimum=0), defaults.timeout)
    retries = check.get(raw, path + ("retries",), lambda p, v: check.integer(p, v, minimum=0), defaults.retries)
    interval = check.get(raw, path + ("interval",), lambda p, v: check.number(p, v, minimum=0), defaults.interval)
    if command is None:
        raise Invalid()
    return HealthCheck(command, timeout, retries, interval)
