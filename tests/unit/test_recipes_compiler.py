"""Compiling run lists: the DSL, include_recipe, attributes, located errors, notifications, secrets."""

import os

import pytest
from recipes_support import FakeService, make_context, write

from runner.errors import UserError
from runner.recipes import DeploymentView, compile_run_list, secret_values
from runner.recipes.codecache import load_recipe
from runner.resources.api import Notification


@pytest.fixture
def books(tmp_path):
    """Cookbook 'web' (depends on 'base') and 'base'; tests add recipes."""
    root = tmp_path / "cookbooks"
    write(root / "base" / "metadata.yml", "name: base\n")
    write(root / "base" / "attributes" / "default.yml", "base: {motd: hello}\nweb: {port: 1, from_base: true}\n")
    write(root / "base" / "recipes" / "default.py", 'file("/etc/motd", content=node.base.motd)\n')
    write(root / "web" / "metadata.yml", "name: web\ndepends: [base]\n")
    write(root / "web" / "attributes" / "default.yml", "web: {port: 8000, user: www, workers: 1}\n")
    write(root / "web" / "templates" / "app.conf.j2", "port={{ node.web.port }}\nhost={{ instance.hostname }}\n")
    write(root / "web" / "templates" / "env.j2", "{% for k, v in env | dictsort %}{{ k }}={{ v }}\n{% endfor %}")
    write(root / "web" / "templates" / "bad.j2", "line1\n{{ nope }}\n")
    write(root / "web" / "files" / "robots.txt", "User-agent: *\n")
    return root


def recipe(books, name: str, text: str, cookbook: str = "web"):
    return write(books / cookbook / "recipes" / f"{name}.py", text)


def compile_(tmp_path, run_list, **kwargs):
    return compile_run_list(make_context(tmp_path, **kwargs), run_list)


def error(tmp_path, run_list, **kwargs) -> UserError:
    with pytest.raises(UserError) as exc:
        compile_(tmp_path, run_list, **kwargs)
    return exc.value


# -- the DSL ------------------------------------------------------------------


def test_resources_in_order_with_their_source_line(tmp_path, books):
    path = recipe(books, "default", """
        package(["curl", "git"])
        directory("/srv/app", mode="0755")

        for name in ("a", "b"):
            file(f"/srv/app/{name}", content=name)
        template("/etc/app.conf", source="app.conf.j2", mode="0644")
        file("/srv/robots.txt", source="robots.txt")
        service("app", action=["enable", "start"])
        """)
    resources = compile_(tmp_path, ["web"])
    assert [r.key for r in resources] == [
        "package[curl git]", "directory[/srv/app]", "file[/srv/app/a]", "file[/srv/app/b]",
        "template[/etc/app.conf]", "file[/srv/robots.txt]", "service[app]",
    ]
    assert [r.source_location for r in resources] == [f"{path}:{n}" for n in (1, 2, 5, 5, 6, 7, 8)]
    assert resources[4].content == "port=81\nhost=app1\n"  # rendered in the recipe's cookbook
    assert resources[5].content == b"User-agent: *\n"
    assert resources[6].action == ("enable", "start")


def test_resource_functions_return_the_resource(tmp_path, books):
    recipe(books, "default", 's = service("app")\nfile("/x", content=s.key)\n')
    assert compile_(tmp_path, ["web"])[1].args["content"] == "service[app]"


def test_include_recipe_runs_a_recipe_once(tmp_path, books):
    recipe(books, "common", 'file("/common", content="c")\n')
    recipe(books, "default", 'include_recipe("web::common")\ninclude_recipe("base")\ninclude_recipe("web::common")\n'
                             'file("/web", content="w")\n')
    resources = compile_(tmp_path, ["web::common", "web", "base", "web"])
    assert [r.key for r in resources] == ["file[/common]", "file[/etc/motd]", "file[/web]"]


def test_include_cycle_ends(tmp_path, books):
    recipe(books, "a", 'include_recipe("web::b")\nfile("/a", content="a")\n')
    recipe(books, "b", 'include_recipe("web::a")\nfile("/b", content="b")\n')
    assert [r.name for r in compile_(tmp_path, ["web::a"])] == ["/b", "/a"]


def test_attribute_precedence(tmp_path, books):
    recipe(books, "default", """
        w = node.web
        file("/p", content=f"{w.port} {w.user} {w.workers} {w.from_base} {w.name} {node.env} {w.extra}")
        """)
    (resource,) = compile_(tmp_path, ["web"], command_json={"web": {"extra": "json"}})
    # port: base 1 < web 8000 < stack 80 < layer web 81; workers: instance 4; extra: --json
    assert resource.args["content"] == "81 www 4 True stack prod json"
    (db1,) = compile_(tmp_path, ["web"], instance="db1", command_json={"web": {"extra": "x"}})
    assert db1.args["content"].startswith("81 www 1 ")  # layers db (82) then web (81): the later layer wins


def test_context_names(tmp_path, books):
    recipe(books, "default", """
        file("/ctx", content=" ".join([
            event, stack.name, layer.name, ",".join(layers), instance.name, str(len(instances)),
            apps["shop"].environment["GREETING"], deployment.app, databag("aws_opsworks_stack")[0]["name"],
        ]))
        """)
    ctx = {"event": "deploy", "deployment": DeploymentView("deploy", app="shop")}
    assert compile_(tmp_path, ["web"], **ctx)[0].args["content"] == "deploy demo web web,db app1 3 hi shop demo"


# -- errors, located ------------------------------------------------------------


def test_bad_resource_argument_at_the_call_line(tmp_path, books):
    path = recipe(books, "default", 'file("/a", content="x")\nfile("/b",\n     contents="x")\n')
    assert str(error(tmp_path, ["web"])) == (
        f"{path}:2: file[/b]: unknown argument 'contents' (did you mean 'content'?)"
    )


def test_bad_action_and_missing_name(tmp_path, books):
    path = recipe(books, "default", 'service("app", action="bounce")\n')
    assert str(error(tmp_path, ["web"])) == (
        f"{path}:1: service[app]: unknown action 'bounce'; one of {', '.join(FakeService.actions)}"
    )
    recipe(books, "default", '# comment\nfile()\n')
    err = error(tmp_path, ["web"])
    assert str(err.location) == f"{path}:2" and err.message.startswith("file: ") and "'name'" in err.message


def test_name_error_at_its_line(tmp_path, books):
    path = recipe(books, "default", 'file("/a", content="x")\n\nfile(f"/{x}", content="y")\n')
    assert str(error(tmp_path, ["web"])) == f"{path}:3: NameError: name 'x' is not defined"


def test_missing_attribute_at_its_line(tmp_path, books):
    path = recipe(books, "default", 'port = node["web"]["port"]\nhost = node["web"]["host"]\n')
    assert str(error(tmp_path, ["web"])) == f"{path}:2: KeyError: node['web']['host'] is not set"


def test_unknown_app_at_its_line(tmp_path, books):
    path = recipe(books, "default", 'app = apps["nope"]\n')
    assert str(error(tmp_path, ["web"])) == f"{path}:1: KeyError: no app 'nope' in this stack (apps: shop)"


def test_error_in_a_recipe_function_at_the_innermost_recipe_line(tmp_path, books):
    path = recipe(books, "default", 'def conf(n):\n    return 1 / n\n\nconf(0)\n')
    assert str(error(tmp_path, ["web"])) == f"{path}:2: ZeroDivisionError: division by zero"


def test_error_in_an_included_recipe_points_into_it(tmp_path, books):
    recipe(books, "default", 'file("/a", content="x")\ninclude_recipe("web::inner")\n')
    inner = recipe(books, "inner", "# one\n# two\nint('x')\n")
    assert str(error(tmp_path, ["web"])) == (
        f"{inner}:3: ValueError: invalid literal for int() with base 10: 'x'"
    )


def test_syntax_error_at_line_and_column(tmp_path, books):
    path = recipe(books, "default", 'file("/a", content="x")\nfile("/b" content="y")\n')
    err = error(tmp_path, ["web"])
    assert (err.location.path, err.location.line, err.location.column) == (str(path), 2, 6)
    assert err.message.startswith("invalid Python in recipe: ")


def test_template_error_keeps_the_template_location(tmp_path, books):
    path = recipe(books, "default", '# one\n# two\ntemplate("/etc/x", source="bad.j2")\n')
    bad = books / "web" / "templates" / "bad.j2"
    assert str(error(tmp_path, ["web"])) == f"{bad.resolve()}:2: undefined variable 'nope' (rendered from {path}:3)"


def test_missing_template_or_file_at_the_recipe_line(tmp_path, books):
    path = recipe(books, "default", 'template("/etc/x", source="app.cfg.j2")\n')
    err = error(tmp_path, ["web"])
    assert str(err.location) == f"{path}:1"
    assert err.message == "template 'app.cfg.j2' not found in cookbook 'web'"
    assert err.hint == "it has: app.conf.j2, bad.j2, env.j2"
    recipe(books, "default", '# one\nfile("/x", source="robot.txt")\n')
    err = error(tmp_path, ["web"])
    assert (str(err.location), err.message, err.hint) == (
        f"{path}:2", "file 'robot.txt' not found in cookbook 'web'", "it has: robots.txt")


def test_unknown_included_recipe_at_the_include_line(tmp_path, books):
    path = recipe(books, "default", 'include_recipe("web::comon")\n')
    recipe(books, "common", "")
    err = error(tmp_path, ["web"])
    assert (str(err.location), err.message, err.hint) == (
        f"{path}:1", "unknown recipe 'web::comon'", "did you mean 'web::common'?")


def test_dynamic_include_of_an_undeclared_cookbook(tmp_path, books):
    write(books / "extra" / "recipes" / "default.py", "")
    path = recipe(books, "default", 'name = "extra"\ninclude_recipe(name)\n')
    err = error(tmp_path, ["web"])
    assert str(err.location) == f"{path}:2"
    assert err.message == "cookbook 'extra' is not a dependency of 'web'"


def test_literal_includes_load_the_cookbook_attributes(tmp_path, books):
    write(books / "extra" / "attributes" / "default.yml", "extra: {x: 1}\n")
    write(books / "extra" / "recipes" / "default.py", 'file("/extra", content=str(node.extra.x))\n')
    recipe(books, "default", 'include_recipe("extra")\n')
    assert compile_(tmp_path, ["web"])[0].args["content"] == "1"


# -- notifications ---------------------------------------------------------------


def test_notifies_and_subscribes(tmp_path, books):
    recipe(books, "default", """
        template("/etc/app.conf", source="app.conf.j2", notifies=("restart", "service[app]"))
        service("app")
        service("worker", subscribes=("reload", "template[/etc/app.conf]", "immediately"))
        """)
    conf, app, worker = compile_(tmp_path, ["web"])
    assert conf.notifies == [Notification("restart", "service[app]"),
                             Notification("reload", "service[worker]", "immediately")]
    assert app.notifies == [] and worker.notifies == []


def test_notification_to_an_undeclared_resource(tmp_path, books):
    path = recipe(books, "default", 'service("app")\nfile("/a", content="x", notifies=("restart", "service[ap]"))\n')
    err = error(tmp_path, ["web"])
    assert str(err) == (f"{path}:2: file[/a] notifies service[ap], which no recipe of this run declares "
                        "(did you mean 'service[app]'?)")


def test_subscription_to_an_undeclared_resource(tmp_path, books):
    path = recipe(books, "default", 'service("app", subscribes=("restart", "template[/nope]"))\n')
    err = error(tmp_path, ["web"])
    assert str(err.location) == f"{path}:1"
    assert err.message == "service[app] subscribes to template[/nope], which no recipe of this run declares"


def test_notified_action_the_target_lacks(tmp_path, books):
    path = recipe(books, "default", 'file("/a", content="x", notifies=("restrat", "service[app]"))\nservice("app")\n')
    err = error(tmp_path, ["web"])
    assert (str(err.location), err.message, err.hint) == (
        f"{path}:1", "file[/a] notifies action 'restrat' but service[app] has no such action",
        "did you mean 'restart'?")
    recipe(books, "default", 'file("/a", content="x")\nservice("app", subscribes=("run", "file[/a]"))\n')
    err = error(tmp_path, ["web"])
    assert str(err.location) == f"{path}:2" and "has no such action" in err.message


def test_first_resource_of_a_key_is_the_target(tmp_path, books):
    recipe(books, "default", 'service("app")\nservice("app", action="stop")\n'
                             'file("/a", content="x", notifies=("restart", "service[app]"))\n'
                             'service("app", subscribes=("restart", "file[/a]"))\n')
    resources = compile_(tmp_path, ["web"])
    assert [n.target for n in resources[2].notifies] == ["service[app]", "service[app]"]


# -- secrets -------------------------------------------------------------------


def test_resources_holding_a_secret_are_marked_sensitive(tmp_path, books):
    recipe(books, "default", """
        app = apps["shop"]
        template("/srv/shop/env", source="env.j2", variables={"env": app.environment})
        execute(f"setpw {app.environment['DB_PASSWORD']}")
        file("/public", content=app.environment["GREETING"])
        file("/pin", content=app.environment["PIN"])
        file("/b", content=b"pw=s3cr3t-pw")
        service("app", only_if="grep -q s3cr3t-pw /x")
        file("/nested", content="x", notifies=[("create", "file[/nested]")])
        """)
    resources = compile_(tmp_path, ["web"])
    assert {r.key: r.sensitive for r in resources} == {
        "template[/srv/shop/env]": True,  # the rendered content holds it
        "execute[setpw s3cr3t-pw]": True,
        "file[/public]": False,
        "file[/pin]": False,  # too short to look for
        "file[/b]": True,
        "service[app]": True,
        "file[/nested]": False,
    }
    assert secret_values(make_context(tmp_path).stack) == {"s3cr3t-pw"}


# -- speed -----------------------------------------------------------------------


def test_recipes_are_compiled_once_and_again_when_changed(tmp_path, books):
    path = recipe(books, "default", 'file("/a", content="1")\n')
    first = load_recipe(path)
    assert load_recipe(path) is first
    compile_(tmp_path, ["web"])
    assert load_recipe(path) is first
    stat = path.stat()
    path.write_text('file("/a", content="22")\n')
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert load_recipe(path) is not first
    assert compile_(tmp_path, ["web"])[0].args["content"] == "22"


def test_sys_exit_in_a_recipe_is_a_recipe_error_at_its_line(tmp_path, books):
    path = recipe(books, "default", 'import sys\nfile("/a", content="x")\nsys.exit(0)\n')
    err = error(tmp_path, ["web"])
    assert str(err.location) == f"{path}:3" and err.message == "SystemExit: the recipe called exit (code 0)"


def test_exit_in_an_included_recipe_points_into_it(tmp_path, books):
    recipe(books, "default", 'include_recipe("web::stop")\n')
    path = recipe(books, "stop", 'file("/b", content="y")\nraise SystemExit("bye")\n')
    err = error(tmp_path, ["web"])
    assert str(err.location) == f"{path}:2" and err.message == "SystemExit: the recipe called exit (code 'bye')"


def test_keyboard_interrupt_in_a_recipe_propagates(tmp_path, books):
    recipe(books, "default", 'raise KeyboardInterrupt\n')
    with pytest.raises(KeyboardInterrupt):
        compile_(tmp_path, ["web"])
