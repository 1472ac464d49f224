"""``!encrypted`` values on real hosts: recipes get the plaintext, nothing the runner shows or keeps holds it.

One Docker host with the sample app; its stack file holds every kind of encrypted
value (custom JSON of the stack, layer, instance and app, environment values, a
database password) and a cookbook's attributes hold one too. The identity is made
for the module and given in ``RUNNER_AGE_KEY`` to each ``runner`` subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from deploy_support import app_copy, app_stack, write_hook

from runner.secrets.age import encrypt, generate

SECRET_KEY, PUBLIC = generate()
PLAIN = {
    "stack_token": "stk-9Qv-encrypted-token",
    "layer_secret": "lyr-4Wm-encrypted-secret",
    "instance_secret": "ins-7Ty-encrypted-secret",
    "db_env": "env-2Kp-encrypted-password",
    "api_token": "env-8Rz-encrypted-api-token",
    "app_secret": "app-3Xn-encrypted-json",
    "db_password": "rds-5Lc-encrypted-password",
    "attr_secret": "cbk-6Hd-encrypted-attribute",
}

LEAK_RECIPE = """\
directory("/etc/leak", mode="0755")
file("/etc/leak/token", content=node["stack_token"] + "\\n", mode="0600")
file("/etc/leak/all", content="\\n".join([node["layer_secret"], node["instance_secret"],
                                          node["leak"]["attr_secret"], apps["hello"].custom_json["app_secret"]]))
execute("wait a little", command="sleep 3; echo token is $LEAK_TOKEN", environment={"LEAK_TOKEN": node["stack_token"]})
"""


def placeholder(name: str) -> str:
    return f"@@{name}@@"


def with_encrypted(document: dict) -> str:
    """The stack document as YAML (JSON is YAML), each placeholder now ``!encrypted "<armored>"``."""
    text = json.dumps(document, indent=2)
    for name, value in PLAIN.items():
        text = text.replace(json.dumps(placeholder(name)), "!encrypted " + json.dumps(encrypt(value, [PUBLIC])))
    assert "@@" not in text
    return text + "\n"


def run(stack: Path, *args: str, wait: bool = True) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "RUNNER_AGE_KEY_FILE"}
    env["RUNNER_AGE_KEY"] = SECRET_KEY
    argv = [sys.executable, "-m", "runner", *args, "-f", str(stack)]
    if not wait:
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)


def assert_hidden(*texts: str) -> None:
    for text in texts:
        for name, value in PLAIN.items():
            assert value not in text, f"the {name} plaintext was shown:\n{text}"


@pytest.fixture(scope="module")
def host(docker_hosts_module, tmp_path_factory):
    app = app_copy(tmp_path_factory.mktemp("app"))
    books = tmp_path_factory.mktemp("books")
    leak = books / "leak"
    (leak / "recipes").mkdir(parents=True)
    (leak / "attributes").mkdir()
    (leak / "recipes" / "default.py").write_text(LEAK_RECIPE)
    (leak / "attributes" / "default.yml").write_text(
        "leak:\n  attr_secret: !encrypted |\n" + textwrap.indent(encrypt(PLAIN["attr_secret"], [PUBLIC]), "    "))
    config = app_stack(app)
    recipes = config["layers"]["app"]["recipes"]
    recipes["setup"] = [*recipes["setup"], "leak"]
    recipes["configure"] = ["leak"]
    hosts = docker_hosts_module(1, config=config)
    document = json.loads(hosts.stack.path.read_text())
    stack = document["stack"]
    stack["cookbooks"].append({"path": str(books)})
    stack["secrets"] = {"recipients": [PUBLIC]}
    stack["custom_json"] = {"stack_token": placeholder("stack_token")}
    stack["databases"] = {"main": {"engine": "postgres", "address": "db.local", "username": "app",
                                   "password": placeholder("db_password")}}
    document["layers"]["app"]["custom_json"] = {"layer_secret": placeholder("layer_secret")}
    document["instances"][hosts.names[0]]["custom_json"] = {"instance_secret": placeholder("instance_secret")}
    hello = document["apps"]["hello"]
    hello["environment"]["DB_PASSWORD"] = placeholder("db_env")
    hello["environment"]["API_TOKEN"] = {"value": placeholder("api_token")}
    hello["custom_json"] = {"app_secret": placeholder("app_secret")}
    hello["data_sources"] = ["main"]
    hosts.stack.path.write_text(with_encrypted(document))
    hosts.app = app
    return hosts


def ps_while(hosts, proc: subprocess.Popen[str], seen: str) -> list[str]:
    """Snapshots of ``ps -eo args`` on the host, taken until ``proc`` ends (at most 600); at least one
    must show ``seen`` (so the run was caught in the act)."""
    snapshots = []
    for _ in range(600):
        if proc.poll() is not None:
            break
        snapshots.append(hosts.exec(hosts.names[0], "ps", "-eo", "args", check=False).stdout)
    assert any(seen in snapshot for snapshot in snapshots), "no snapshot caught the run"
    return snapshots


def test_converge_gives_recipes_the_plaintext_and_shows_none_of_it(host) -> None:
    name = host.names[0]
    proc = run(host.stack.path, "-v", "converge", wait=False)
    snapshots = ps_while(host, proc, "sleep 3")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out + err
    assert_hidden(out, err, *snapshots)
    assert "export LEAK_TOKEN=********; exec sh -c" in err, "-v shows the scripts, the value masked"

    def sh(command: str) -> str:
        return host.exec(name, "sh", "-c", command).stdout.strip()

    assert sh("cat /etc/leak/token") == PLAIN["stack_token"]
    assert sh("cat /etc/leak/all").split("\n") == [PLAIN["layer_secret"], PLAIN["instance_secret"],
                                                    PLAIN["attr_secret"], PLAIN["app_secret"]]
    bags = sh("cat /srv/hello/databags/aws_opsworks_app.json /srv/hello/databags/aws_opsworks_rds_db_instance.json")
    assert PLAIN["db_env"] in bags and PLAIN["api_token"] in bags and PLAIN["db_password"] in bags
    modes = sh("stat -c '%a %n' /etc/leak/token /etc/leak/all /srv/hello/databags/* "
               "/srv/hello/shared/config/environment").splitlines()
    assert modes and all(line.startswith("600 ") for line in modes), modes
    assert sh("stat -c %a /srv/hello/databags") == "700"


def test_files_with_secrets_are_never_readable_by_others_while_written(host) -> None:
    name = host.names[0]
    watched = "/etc/leak/* /etc/leak/.runner-* /srv/hello/databags/* /srv/hello/databags/.runner-*"
    watcher = subprocess.Popen(["docker", "exec", host.container(name), "sh", "-c",
                                f"for i in $(seq 1 3000); do stat -c '%a %n' {watched} 2>/dev/null; done"],
                               stdout=subprocess.PIPE, text=True)
    host.exec(name, "sh", "-c", "rm -f /etc/leak/token /etc/leak/all /srv/hello/databags/*.json")
    proc = run(host.stack.path, "configure")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen, _ = watcher.communicate(timeout=600)
    assert ".runner-" in seen or "/etc/leak/token" in seen, "the watcher saw nothing"
    assert all(line.startswith("600 ") for line in seen.splitlines()), \
        sorted({line for line in seen.splitlines() if not line.startswith("600 ")})


def test_plan_validate_status_and_json_show_none_of_it(host) -> None:
    host.exec(host.names[0], "sh", "-c", "echo changed > /etc/leak/all; echo changed > /etc/leak/token")
    outputs = []
    for args in (("plan",), ("-v", "plan"), ("plan", "--format", "json"), ("converge", "--format", "json"),
                 ("validate",), ("validate", "--format", "json"), ("status",), ("status", "--format", "json"),
                 ("events",)):
        proc = run(host.stack.path, *args)
        assert proc.returncode in (0, 1), (args, proc.stdout + proc.stderr)
        outputs += [proc.stdout, proc.stderr]
    assert_hidden(*outputs)
    assert "content changed (sensitive)" in outputs[2]


def test_a_failing_hook_that_prints_its_environment_shows_none_of_it(host) -> None:
    write_hook(host.app, "before_symlink", 'sleep 2; env; echo "with $DB_PASSWORD and $API_TOKEN" >&2; exit 3')
    try:
        proc = run(host.stack.path, "-v", "deploy", "hello", wait=False)
        snapshots = ps_while(host, proc, "sleep 2")
        out, err = proc.communicate(timeout=600)
        as_json = run(host.stack.path, "deploy", "hello", "--format", "json")
    finally:
        (host.app / "deploy" / "before_symlink").unlink()
    assert proc.returncode == 1 and as_json.returncode == 1, out + err
    assert "hook:before_symlink" in out and "with ********" in out + err
    assert_hidden(out, err, as_json.stdout, as_json.stderr, *snapshots)
    history = [run(host.stack.path, "history", "hello"), run(host.stack.path, "history", "hello", "--format", "json")]
    assert all(proc.returncode == 0 for proc in history)
    assert_hidden(*(proc.stdout + proc.stderr for proc in history))


def test_nothing_in_the_state_dir_holds_a_plaintext(host) -> None:
    state = host.stack.path.parent / ".runner"
    files = [path for path in state.rglob("*") if path.is_file()]
    assert files, "no state written"
    for path in files:
        data = path.read_bytes()
        for name, value in PLAIN.items():
            assert value.encode() not in data, f"{path} holds the {name} plaintext"
    assert_hidden(host.stack.path.read_text())


def test_without_the_identity_nothing_runs(host) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RUNNER_AGE_KEY", "RUNNER_AGE_KEY_FILE")}
    env["HOME"] = str(host.stack.path.parent)  # no ~/.config/runner/age.key there
    before = host.exec(host.names[0], "sh", "-c", "stat -c %Y /etc/leak/token").stdout
    proc = subprocess.run([sys.executable, "-m", "runner", "converge", "-f", str(host.stack.path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == len(PLAIN), proc.stderr  # each value, at its place in its file
    assert all("!encrypted value: no age identity to decrypt it with (tried: " in line for line in lines)
    assert sum(line.startswith(f"{host.stack.path}:") for line in lines) == len(PLAIN) - 1
    assert host.exec(host.names[0], "sh", "-c", "stat -c %Y /etc/leak/token").stdout == before
