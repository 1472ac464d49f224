"""Check and build ``stack.databases``: databases registered with the stack, as OpsWorks' RDS layers were.

A registered database is not managed by runner (nothing is created or
started): it is where the apps' data lives, described so recipes can connect
to it. Apps attach one with ``data_sources: [<name>]``. The password is always
a secure value: it is kept out of output, logs and plan diffs like an app's
secure environment values.
"""

from __future__ import annotations

from typing import Any

from runner.model.fields import Checker, Invalid, describe, suggest
from runner.model.stack import MIN_SECRET_LENGTH, Database, EnvValue
from runner.model.yamlsource import KeyPath

DATABASE_KEYS: tuple[str, ...] = ("engine", "address", "port", "database", "username", "password")
REQUIRED_KEYS: tuple[str, ...] = ("engine", "address", "username", "password")
#: the RDS engines OpsWorks could register, with the port each listens on by default
ENGINE_PORTS: dict[str, int] = {
    "mysql": 3306, "mariadb": 3306, "aurora-mysql": 3306, "postgres": 5432, "aurora-postgresql": 5432,
    "oracle": 1521, "sqlserver": 1433,
}


def build_databases(check: Checker, path: KeyPath, value: Any) -> dict[str, Database]:
    """``stack.databases``: name -> :class:`Database`; a broken entry is reported and left out."""
    raw = check.mapping(path, value, allow_null=True)
    result: dict[str, Database] = {}
    for name, item in raw.items():
        found = check.attempt(_database, check, path + (name,), name, item)
        if found is not None:
            result[name] = found
    return result


def _database(check: Checker, path: KeyPath, name: str, value: Any) -> Database:
    check.name(path, name, "database")
    raw = check.mapping(path, value, DATABASE_KEYS, REQUIRED_KEYS)
    engine = check.get(raw, path + ("engine",), lambda p, v: check.choice(p, v, ENGINE_PORTS, "database engine"))
    address = check.get(raw, path + ("address",), check.string)
    port = check.get(raw, path + ("port",), lambda p, v: check.integer(p, v, 1, 65535))
    database = check.get(raw, path + ("database",), check.string)
    username = check.get(raw, path + ("username",), check.string)
    password = check.get(raw, path + ("password",), lambda p, v: _password(check, p, v))
    if None in (engine, address, username, password):
        raise Invalid()
    return Database(name, engine, address, port or ENGINE_PORTS[engine], database, username, password,
                    location=check.key_at(path))


def _password(check: Checker, path: KeyPath, value: Any) -> EnvValue:
    """A string, or ``{value: ..., secure: true}`` as app environment values are written; always secure."""
    if isinstance(value, dict):
        raw = check.mapping(path, value, ("value", "secure"), required=("value",))
        if raw.get("secure", True) is not True:
            raise check.fail(path + ("secure",), "a database password is always secure",
                             "leave 'secure' out, or write 'secure: true'")
        if "value" not in raw:
            raise Invalid()
        path, value = path + ("value",), raw["value"]
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise check.fail(path, f"expected a string, got {describe(value)}")
    text = str(value)
    if len(text) < MIN_SECRET_LENGTH:  # shorter values cannot be hidden in output without hiding too much
        raise check.fail(path, f"a password needs at least {MIN_SECRET_LENGTH} characters, got {len(text)}")
    return EnvValue(text, secure=True, encrypted=path in check.doc.encrypted)


def data_source_refs(check: Checker, path: KeyPath, value: Any, databases: list[str]) -> tuple[str, ...]:
    """``apps.<a>.data_sources``: a list of names of ``stack.databases`` entries."""
    names = check.strings(path, value)
    found: list[str] = []
    for i, name in enumerate(value):
        if not isinstance(name, str) or name not in names:
            continue
        if name not in databases:
            hint = suggest(name, databases) or (
                "register it under stack.databases" if not databases else
                "expected one of: " + ", ".join(databases))
            check.fail(path + (i,), f"unknown database '{name}'", hint)
        elif name in found:
            check.fail(path + (i,), f"database '{name}' is listed twice")
        else:
            found.append(name)
    return tuple(found)
