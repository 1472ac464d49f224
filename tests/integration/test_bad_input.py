"""Hardening against bad input on real hosts: ignored failures in the counts, old secrets in plan diffs."""

from __future__ import annotations

import json

from test_converge import by_host, converge_json, runner, stack_config, write_cookbook

OLD_SECRET = "old-Secret-value-1234"
NEW_SECRET = "new-Secret-value-5678"


def test_an_ignored_failure_counts_as_ok_with_a_warning(docker_hosts, tmp_path) -> None:
    recipe = '''
        execute("echo broken >&2; exit 3", ignore_failure=True)
        file("/opt/after", content="x")
    '''
    books = write_cookbook(tmp_path, "w", {"default": recipe})
    hosts = docker_hosts(1, config=stack_config(books, ["w"]))
    name = hosts.names[0]
    proc = runner(hosts.stack.path, "converge")
    assert proc.returncode == 0, proc.stderr
    header, row = proc.stdout.strip().split("\n")[1:3]
    columns = dict(zip(header.split(), row.split(), strict=True))
    assert columns["RESULT"] == "ok" and columns["FAILED"] == "0" and columns["IGNORED"] == "1", proc.stdout
    assert "failed" in proc.stdout and "(ignored: ignore_failure)" in proc.stdout
    assert "1 ignored" in proc.stderr and "failed" not in proc.stderr.split(f"{name}: done")[-1].split("\n")[0]
    code, report, err = converge_json(hosts.stack.path)
    host = by_host(report)[name]
    assert code == 0 and host["ok"] is True, err
    assert host["failed"] == 0 and host["ignored"] == 1 and host["changed"] == 0
    assert host["unchanged"] == len(host["resources"]) - 1
    execute = host["resources"][0]
    assert execute["status"] == "failed" and execute["ignored_failure"] is True


def _secret_stack(tmp_path, secret: str) -> dict:
    recipe = '''
        app = apps["web"]
        file("/opt/plain.conf", content="user=web\\npassword=" + app.environment["DB_PASSWORD"] + "\\nport=1\\n")
        template("/opt/web.env", source="env.j2", variables={"env": app.environment})
    '''
    books = write_cookbook(tmp_path, "s", {"default": recipe},
                           templates={"env.j2": "{% for k, v in env | dictsort %}{{ k }}={{ v }}\n{% endfor %}"})
    config = stack_config(books, ["s"])
    config["apps"] = {"web": {"layers": ["app"], "source": {"type": "directory", "path": str(tmp_path)},
                              "environment": {"PLAIN": "visible", "DB_PASSWORD": {"value": secret, "secure": True}}}}
    return config


def test_plan_after_a_secret_changed_shows_neither_value(docker_hosts, tmp_path) -> None:
    hosts = docker_hosts(1, config=_secret_stack(tmp_path, OLD_SECRET))
    name = hosts.names[0]
    code, _report, err = converge_json(hosts.stack.path)
    assert code == 0, err
    document = json.loads(hosts.stack.path.read_text())
    document["apps"]["web"]["environment"]["DB_PASSWORD"]["value"] = NEW_SECRET
    hosts.stack.path.write_text(json.dumps(document))
    outputs = [runner(hosts.stack.path, *args) for args in (("plan",), ("plan", "-v"), ("plan", "--format", "json"))]
    for proc in outputs:
        assert proc.returncode == 0, proc.stderr
        assert OLD_SECRET not in proc.stdout + proc.stderr and NEW_SECRET not in proc.stdout + proc.stderr
    assert "file[/opt/plain.conf]: content changed (sensitive)" in outputs[0].stdout
    assert "template[/opt/web.env]: content changed (sensitive)" in outputs[0].stdout
    plan = by_host(json.loads(outputs[2].stdout))[name]
    pending = {r["resource"]: r for r in plan["resources"] if r["status"] == "would-change"}
    assert {"file[/opt/plain.conf]", "template[/opt/web.env]"} <= set(pending), outputs[0].stdout
    assert all("diff" not in r for r in pending.values()), outputs[2].stdout
    assert OLD_SECRET in hosts.exec(name, "cat", "/opt/plain.conf").stdout  # plan changed nothing


def test_plan_hides_an_old_secret_when_the_new_content_holds_none(docker_hosts, tmp_path) -> None:
    """The value is no longer a secret (too short to look for, or not secure): the old one is still on the host."""
    hosts = docker_hosts(1, config=_secret_stack(tmp_path, OLD_SECRET))
    name = hosts.names[0]
    assert converge_json(hosts.stack.path)[0] == 0
    document = json.loads(hosts.stack.path.read_text())
    document["apps"]["web"]["environment"]["DB_PASSWORD"] = "abc"
    hosts.stack.path.write_text(json.dumps(document))
    plan = runner(hosts.stack.path, "plan")
    assert plan.returncode == 0, plan.stderr
    assert OLD_SECRET not in plan.stdout + plan.stderr, plan.stdout
    assert "file[/opt/plain.conf]: content changed (was sensitive)" in plan.stdout
    assert "template[/opt/web.env]: content changed (was sensitive)" in plan.stdout
    code, _report, err = converge_json(hosts.stack.path)
    assert code == 0, err
    assert hosts.exec(name, "cat", "/opt/plain.conf").stdout == "user=web\npassword=abc\nport=1\n"
    document["apps"]["web"]["environment"]["DB_PASSWORD"] = "abcd-not-secret"
    hosts.stack.path.write_text(json.dumps(document))
    again = runner(hosts.stack.path, "plan")  # nothing secret is on the host any more: the diff shows again
    assert "-password=abc\n" in again.stdout.replace("      ", "") and "+password=abcd-not-secret" in again.stdout
