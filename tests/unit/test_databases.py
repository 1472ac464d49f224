"""Registered databases (stack.databases, apps.<a>.data_sources): loading, checks, data bags, secrets."""

import dataclasses
import json
import textwrap
from pathlib import Path

import pytest
from recipes_support import make_context, make_stack

from runner.cli.main import main
from runner.errors import UserErrors
from runner.model.loader import load_stack
from runner.model.stack import Database, EnvValue
from runner.recipes import app_databags, build_databags, build_scope, compile_run_list, object_id, secret_values
from runner.recipes.context import Node
from runner.sources.plugin import BUILTIN_SOURCES

SOURCES = {kind.name: kind.declaration() for kind in BUILTIN_SOURCES}

STACK = """\
stack:
  name: shop
  databases:
    main: {engine: mysql, address: db.internal, database: shop, username: app, password: pw-s3cr3t-1}
    reports:
      engine: postgres
      address: 10.0.0.9
      port: 6432
      username: reader
      password: {value: pw-s3cr3t-2, secure: true}
layers:
  app: {}
apps:
  web:
    layers: [app]
    source: {type: directory, path: .}
    data_sources: [main]
"""


def write(directory: Path, text: str, name: str = "stack.yml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def errors_of(directory: Path, text: str) -> list[str]:
    write(directory, text)
    with pytest.raises(UserErrors) as info:
        load_stack("stack.yml", SOURCES)
    return [str(e) for e in info.value.errors]


# -- loading -------------------------------------------------------------------


def test_databases_and_data_sources_load(in_tmp):
    write(in_tmp, STACK)
    stack = load_stack("stack.yml", SOURCES)
    main_db, reports = stack.databases["main"], stack.databases["reports"]
    assert (main_db.engine, main_db.address, main_db.port, main_db.database, main_db.username) == (
        "mysql", "db.internal", 3306, "shop", "app")  # the engine's port by default
    assert main_db.password == EnvValue("pw-s3cr3t-1", secure=True)  # a plain string is secure too
    assert (reports.port, reports.database, reports.password.value) == (6432, None, "pw-s3cr3t-2")
    assert stack.apps["web"].data_sources == ("main",)
    assert str(main_db.location) == "stack.yml:4:5"


def test_the_password_stays_out_of_reprs(in_tmp):
    write(in_tmp, STACK)
    stack = load_stack("stack.yml", SOURCES)
    assert "pw-s3cr3t" not in repr(stack.databases)
    assert "pw-s3cr3t" not in repr(stack)


BASE = "stack:\n  name: s\n  databases:\n"
APP = "layers: {app: {}}\napps:\n  web:\n    layers: [app]\n    source: {type: directory, path: .}\n"
GOOD_DB = "    main: {engine: mysql, address: h, username: u, password: secret}\n"

CASES = {
    "unknown key": (
        BASE + "    main: {engine: mysql, address: h, username: u, password: secret, hots: x}\n",
        ["stack.yml:4:70: stack.databases.main: unknown key 'hots'"],
    ),
    "unknown key close to a known one": (
        BASE + "    main: {engine: mysql, address: h, username: u, password: secret, databse: x}\n",
        ["stack.yml:4:70: stack.databases.main: unknown key 'databse' (did you mean 'database'?)"],
    ),
    "missing keys": (
        BASE + "    main: {engine: mysql, address: h}\n",
        ["stack.yml:4:5: stack.databases.main: missing required key 'username'",
         "stack.yml:4:5: stack.databases.main: missing required key 'password'"],
    ),
    "engine typo": (
        BASE + "    main: {engine: postgress, address: h, username: u, password: secret}\n",
        ["stack.yml:4:20: stack.databases.main.engine: unknown database engine 'postgress'"
         " (did you mean 'postgres'?)"],
    ),
    "port type": (
        BASE + "    main: {engine: mysql, address: h, port: '3306x', username: u, password: secret}\n",
        ["stack.yml:4:45: stack.databases.main.port: expected an integer, got string '3306x'"],
    ),
    "address type": (
        BASE + "    main: {engine: mysql, address: [h], username: u, password: secret}\n",
        ["stack.yml:4:36: stack.databases.main.address: expected a string, got a list"],
    ),
    "password not secure": (
        BASE + "    main: {engine: mysql, address: h, username: u, password: {value: secret, secure: false}}\n",
        ["stack.yml:4:86: stack.databases.main.password.secure: a database password is always secure"
         " (leave 'secure' out, or write 'secure: true')"],
    ),
    "password too short": (
        BASE + "    main: {engine: mysql, address: h, username: u, password: abc}\n",
        ["stack.yml:4:62: stack.databases.main.password: a password needs at least 4 characters, got 3"],
    ),
    "databases not a mapping": (
        "stack:\n  name: s\n  databases: [main]\n",
        ["stack.yml:3:14: stack.databases: expected a mapping, got a list"],
    ),
    "unknown data source": (
        BASE + GOOD_DB + APP + "    data_sources: [mian]\n",
        ["stack.yml:10:20: apps.web.data_sources[0]: unknown database 'mian' (did you mean 'main'?)"],
    ),
    "unknown data source, nothing close": (
        BASE + GOOD_DB + APP + "    data_sources: [zzz]\n",
        ["stack.yml:10:20: apps.web.data_sources[0]: unknown database 'zzz' (expected one of: main)"],
    ),
    "data source without databases": (
        "stack: {name: s}\n" + APP + "    data_sources: [main]\n",
        ["stack.yml:7:20: apps.web.data_sources[0]: unknown database 'main' (register it under stack.databases)"],
    ),
    "data sources not a list": (
        BASE + GOOD_DB + APP + "    data_sources: main\n",
        ["stack.yml:10:19: apps.web.data_sources: expected a list of strings, got string 'main'"],
    ),
    "data source twice": (
        BASE + GOOD_DB + APP + "    data_sources: [main, main]\n",
        ["stack.yml:10:26: apps.web.data_sources[1]: database 'main' is listed twice"],
    ),
}


@pytest.mark.parametrize("text, expected", list(CASES.values()), ids=list(CASES))
def test_errors(in_tmp, text, expected):
    assert errors_of(in_tmp, text) == expected


def test_a_broken_database_is_not_also_an_unknown_data_source(in_tmp):
    text = BASE + "    main: {engine: nope, address: h, username: u, password: secret}\n" + APP
    assert errors_of(in_tmp, text + "    data_sources: [main]\n") == [
        "stack.yml:4:20: stack.databases.main.engine: unknown database engine 'nope'"
        " (expected one of: mysql, mariadb, aurora-mysql, postgres, aurora-postgresql, oracle, sqlserver)"]


def test_cli_exit_2_for_an_unknown_data_source(in_tmp, capsys):
    write(in_tmp, BASE + GOOD_DB + APP + "    data_sources: [mian]\n")
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert "stack.yml:10:20: apps.web.data_sources[0]: unknown database 'mian' (did you mean 'main'?)" in err
    assert "Traceback" not in err


# -- data bags and secrets -------------------------------------------------------------


def with_databases(tmp_path: Path):
    base = make_stack(tmp_path)
    databases = {
        "main": Database("main", "mysql", "db.internal", 3306, "shop", "app", EnvValue("pw-s3cr3t-1", True)),
        "reports": Database("reports", "postgres", "10.0.0.9", 6432, None, "reader", EnvValue("pw-s3cr3t-2", True)),
    }
    apps = {"shop": dataclasses.replace(base.apps["shop"], data_sources=("main",))}
    return make_stack(tmp_path, databases=databases, apps=apps)


def test_rds_bag_lists_every_database_with_opsworks_field_names(tmp_path):
    bags = build_databags(make_context(tmp_path, stack=with_databases(tmp_path)))
    assert bags["aws_opsworks_rds_db_instance"] == [
        {"rds_db_instance_arn": "arn:aws:rds:local:000000000000:db:main", "db_instance_identifier": "main",
         "db_name": "shop", "db_user": "app", "db_password": "pw-s3cr3t-1", "engine": "mysql",
         "address": "db.internal", "port": 3306, "region": "local", "stack_id": object_id("demo", "stack")},
        {"rds_db_instance_arn": "arn:aws:rds:local:000000000000:db:reports", "db_instance_identifier": "reports",
         "db_name": None, "db_user": "reader", "db_password": "pw-s3cr3t-2", "engine": "postgres",
         "address": "10.0.0.9", "port": 6432, "region": "local", "stack_id": object_id("demo", "stack")},
    ]


def test_app_data_sources_name_the_attached_databases(tmp_path):
    (app,) = build_databags(make_context(tmp_path, stack=with_databases(tmp_path)))["aws_opsworks_app"]
    assert app["data_sources"] == [
        {"type": "RdsDbInstance", "arn": "arn:aws:rds:local:000000000000:db:main", "database_name": "shop",
         "engine": "mysql", "address": "db.internal", "port": 3306, "db_user": "app"}]


def test_stack_without_databases_has_an_empty_rds_bag(tmp_path):
    bags = build_databags(make_context(tmp_path))
    assert bags["aws_opsworks_rds_db_instance"] == []
    assert bags["aws_opsworks_app"][0]["data_sources"] == []


def test_app_databag_files_hold_the_rds_bag(tmp_path):
    files = app_databags(make_context(tmp_path, stack=with_databases(tmp_path)), "shop")
    rds = json.loads(files["aws_opsworks_rds_db_instance"])
    assert [d["db_instance_identifier"] for d in rds] == ["main", "reports"]


def test_recipes_read_them_through_databag(tmp_path):
    scope = build_scope(make_context(tmp_path, stack=with_databases(tmp_path)), Node({}))
    (main_db,) = [d for d in scope["databag"]("aws_opsworks_rds_db_instance") if d["db_name"] == "shop"]
    assert main_db["db_password"] == "pw-s3cr3t-1"


def test_passwords_are_secrets_and_mark_resources_sensitive(tmp_path):
    stack = with_databases(tmp_path)
    assert secret_values(stack) == {"s3cr3t-pw", "pw-s3cr3t-1", "pw-s3cr3t-2"}
    cookbook = tmp_path / "cookbooks" / "db"
    (cookbook / "recipes").mkdir(parents=True)
    (cookbook / "metadata.yml").write_text("name: db\n")
    (cookbook / "recipes" / "default.py").write_text(textwrap.dedent("""\
        rds = databag("aws_opsworks_rds_db_instance")[0]
        file("/etc/db.conf", content=f"password={rds['db_password']}\\n")
        file("/etc/db.host", content=rds["address"])
        """))
    resources = compile_run_list(make_context(tmp_path, stack=stack), ["db"])
    assert {r.key: r.sensitive for r in resources} == {"file[/etc/db.conf]": True, "file[/etc/db.host]": False}
