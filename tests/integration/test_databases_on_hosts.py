"""Registered databases on a Docker host: recipes read them from both data bags; the password never shows."""

from __future__ import annotations

import json
from pathlib import Path

from test_converge import converge_json, runner, write_cookbook

PASSWORD = "Db-pa55word-never-shown"
NEW_PASSWORD = "Db-n3w-pa55word-hidden"

RECIPE = '''
    rds = {d["db_instance_identifier"]: d for d in databag("aws_opsworks_rds_db_instance")}
    (app,) = [a for a in databag("aws_opsworks_app") if a["shortname"] == "web"]
    (source,) = app["data_sources"]
    db = rds[source["arn"].rsplit(":", 1)[-1]]
    file("/opt/db.conf", content=(
        f"engine={source['engine']}\\nhost={source['address']}\\nport={source['port']}\\n"
        f"database={source['database_name']}\\nuser={source['db_user']}\\npassword={db['db_password']}\\n"),
        mode="0600")
    file("/opt/db.arn", content=db["rds_db_instance_arn"] + "\\n")
    execute(f"echo connecting as {db['db_user']} with {db['db_password']}; echo {db['db_password']} >&2")
'''


def stack_config(books: Path, app_dir: Path, password: str) -> dict:
    return {
        "stack": {
            "cookbooks": [{"path": str(books)}],
            "databases": {
                "main": {"engine": "postgres", "address": "db.internal", "database": "shop",
                         "username": "shop_app", "password": password},
            },
        },
        "layers": {"app": {"recipes": {"configure": ["db"]}}},
        "apps": {"web": {"layers": ["app"], "source": {"type": "directory", "path": str(app_dir)},
                         "data_sources": ["main"]}},
    }


def test_recipe_reads_the_database_and_the_password_stays_hidden(docker_hosts, tmp_path) -> None:
    books = write_cookbook(tmp_path / "books", "db", {"default": RECIPE})
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "index.html").write_text("hello\n")
    hosts = docker_hosts(1, config=stack_config(books, app_dir, PASSWORD))
    name = hosts.names[0]

    code, report, err = converge_json(hosts.stack.path, "-v")
    assert code == 0, err
    assert PASSWORD not in json.dumps(report) + err
    conf = hosts.exec(name, "cat", "/opt/db.conf").stdout
    assert conf == ("engine=postgres\nhost=db.internal\nport=5432\ndatabase=shop\nuser=shop_app\n"
                    f"password={PASSWORD}\n")
    assert hosts.exec(name, "cat", "/opt/db.arn").stdout == "arn:aws:rds:local:000000000000:db:main\n"
    on_host = json.loads(hosts.exec(name, "cat", "/srv/web/databags/aws_opsworks_rds_db_instance.json").stdout)
    assert [(d["db_instance_identifier"], d["db_password"]) for d in on_host] == [("main", PASSWORD)]

    text = runner(hosts.stack.path, "configure", "-vv")  # the text output, every remote command shown
    assert text.returncode == 0, text.stderr
    assert PASSWORD not in text.stdout + text.stderr

    # a changed password: the plan's diffs and the converge hide both the old and the new one
    document = json.loads(hosts.stack.path.read_text())
    document["stack"]["databases"]["main"]["password"] = {"value": NEW_PASSWORD, "secure": True}
    hosts.stack.path.write_text(json.dumps(document))
    plan = runner(hosts.stack.path, "plan")
    assert plan.returncode == 0, plan.stderr
    assert "file[/opt/db.conf]" in plan.stdout
    assert PASSWORD not in plan.stdout + plan.stderr and NEW_PASSWORD not in plan.stdout + plan.stderr
    code, report, err = converge_json(hosts.stack.path, "-vv")
    assert code == 0, err
    assert PASSWORD not in json.dumps(report) + err and NEW_PASSWORD not in json.dumps(report) + err
    assert hosts.exec(name, "cat", "/opt/db.conf").stdout.endswith(f"password={NEW_PASSWORD}\n")
