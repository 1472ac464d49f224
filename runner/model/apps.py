"""Check and build the ``apps`` entries of a stack file (source, environment, deploy)."""

from __future__ import annotations

import re
from typing import Any

from runner.model.fields import Checker, Invalid, describe
from runner.model.sections import layer_refs
from runner.model.stack import APP_SOURCE_TYPES, App, AppSource, DeploySettings, EnvValue, HealthCheck
from runner.model.yamlsource import KeyPath

APP_KEYS: tuple[str, ...] = ("layers", "source", "environment", "deploy", "custom_json")
SOURCE_KEYS: dict[str, tuple[str, ...]] = {
    "directory": ("type", "path", "url", "fetch"),
    "archive": ("type", "path", "url", "fetch"),
    "git": ("type", "url", "revision", "fetch"),
    "s3": ("type", "bucket", "key", "region", "fetch"),
}
FETCH_MODES: tuple[str, ...] = ("local", "remote")
DEPLOY_KEYS: tuple[str, ...] = ("strategy", "batch", "keep_releases", "max_failures", "health_check", "options")
HEALTH_CHECK_KEYS: tuple[str, ...] = ("command", "timeout", "retries", "interval")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PERCENT = re.compile(r"^(\d{1,3})%$")


def build_app(check: Checker, name: str, raw: Any, layers: list[str]) -> App | None:
    """An :class:`App` from ``apps.<name>``, or None when its source is unusable (reported)."""
    path: KeyPath = ("apps", name)
    check.attempt(check.name, path, name, "app")
    raw = check.attempt(check.mapping, path, raw, APP_KEYS, ("layers", "source"), default={})
    source = check.get(raw, path + ("source",), lambda p, v: _source(check, p, v))
    app_layers = check.get(raw, path + ("layers",), lambda p, v: layer_refs(check, p, v, layers), ())
    environment = check.get(raw, path + ("environment",), lambda p, v: _environment(check, p, v), {})
    deploy = check.get(raw, path + ("deploy",), lambda p, v: _deploy(check, p, v), DeploySettings())
    custom_json = check.get(raw, path + ("custom_json",), check.free_mapping, {})
    if source is None:
        return None
    return App(name, app_layers, source, environment, deploy, custom_json, location=check.key_at(path))


def _source(check: Checker, path: KeyPath, value: Any) -> AppSource:
    raw = check.mapping(path, value, required=("type",))
    if "type" not in raw:
        raise Invalid()
    kind = check.choice(path + ("type",), raw["type"], APP_SOURCE_TYPES, "app source type")
    check.mapping(path, raw, SOURCE_KEYS[kind], required=_required(kind))
    options: dict[str, Any] = {}
    for key in SOURCE_KEYS[kind][1:]:
        if key == "path":
            reader = check.file_path
        elif key == "fetch":
            reader = lambda p, v: check.choice(p, v, FETCH_MODES, "fetch mode")  # noqa: E731
        elif key == "revision":
            reader = check.scalar_string
        else:
            reader = check.string
        found = check.get(raw, path + (key,), reader)
        if found is not None:
            options[key] = found
    if kind in ("directory", "archive") and ("path" in raw) == ("url" in raw):
        what = "takes 'path' or 'url', not both" if "path" in raw else "needs 'path' or 'url'"
        raise check.fail(path, f"{kind} source {what}", at_key=True)
    if any(key not in raw for key in _required(kind)):
        raise Invalid()
    return AppSource(kind, options)


def _required(kind: str) -> tuple[str, ...]:
    return {"git": ("url",), "s3": ("bucket", "key")}.get(kind, ())


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
        return EnvValue(text, secure)
    return EnvValue(_env_text(check, path, value))


def _env_text(check: Checker, path: KeyPath, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise check.fail(path, f"expected a string, number, boolean or {{value, secure}}, got {describe(value)}")


def _deploy(check: Checker, path: KeyPath, value: Any) -> DeploySettings:
    raw = check.mapping(path, value, DEPLOY_KEYS, allow_null=True)
    defaults = DeploySettings()
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
    )


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
