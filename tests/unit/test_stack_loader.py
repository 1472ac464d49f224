"""Loading stack.yml: the model it builds, and every error it reports (file:LINE:COL: message)."""

import textwrap
from pathlib import Path

import pytest

from runner.errors import Location, UserErrors
from runner.model.loader import load_stack
from runner.model.stack import BalancerSettings, DeploySettings, EnvValue, HealthCheck
from runner.sources.plugin import BUILTIN_SOURCES

#: the built-in source types' declarations, as `runner` hands them to the loader
SOURCES = {kind.name: kind.declaration() for kind in BUILTIN_SOURCES}

GOOD = """\
stack:
  name: demo
  provider: docker
  provider_options: {network: runner}
  hostname_theme: Layer_Dependent
  ssh: {user: deploy, key: keys/id, port: 2222, host_key_policy: accept-new, known_hosts: ~/kh}
  cookbooks:
    - path: cookbooks
    - other
  custom_json: {app_env: production}
layers:
  lb:
    recipes: {setup: [haproxy], configure: [haproxy::configure]}
  web_app:
    packages: [curl]
    recipes:
      setup: [nodejs_demo::setup]
      deploy: [nodejs_demo::deploy]
    custom_json: {port: 8080}
    auto_healing: true
    shutdown_timeout: 30
instances:
  a: {layers: [web_app]}
  b: {layers: [web_app, lb], custom_json: {x: 1}}
  c: {layers: [lb], hostname: balancer}
apps:
  hello:
    layers: [web_app]
    source: {type: directory, path: ../apps/hello, fetch: local}
    environment: {GREETING: hi, WORKERS: 4, DEBUG: false, SECRET: {value: s3cr3t, secure: true}}
    deploy:
      strategy: rolling
      batch: 30%
      keep_releases: 3
      max_failures: 1
      health_check: {command: "curl -f localhost", timeout: 5, retries: 2, interval: 0.5}
      options: {drain: 10}
  site:
    layers: [lb]
    source: {type: git, url: "https://example.invalid/site.git", revision: 1234}
  blob:
    layers: [lb]
    source: {type: s3, bucket: b, key: site.tgz, fetch: remote}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in tmp_path so messages name files as the user typed them (stack.yml:...)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def errors_of(directory: Path, text: str, name: str = "stack.yml") -> list[str]:
    write(directory, name, text)
    with pytest.raises(UserErrors) as info:
        load_stack(name, SOURCES)
    return [str(e) for e in info.value.errors]


# -- the model ---------------------------------------------------------------


def test_good_stack_builds_the_model(in_tmp):
    write(in_tmp, "stack.yml", GOOD)
    stack = load_stack("stack.yml", SOURCES)
    assert stack.name == "demo"
    assert stack.path == in_tmp / "stack.yml"
    assert stack.provider == "docker"
    assert stack.provider_options == {"network": "runner"}
    assert stack.ssh.user == "deploy"
    assert stack.ssh.key == in_tmp / "keys" / "id"
    assert stack.ssh.port == 2222
    assert stack.ssh.host_key_policy == "accept-new"
    assert stack.ssh.known_hosts == Path("~/kh").expanduser()
    assert [c.path for c in stack.cookbooks] == [in_tmp / "cookbooks", in_tmp / "other"]
    assert stack.cookbooks[0].location == Location("stack.yml", 8, 7)
    assert stack.custom_json == {"app_env": "production"}

    assert list(stack.layers) == ["lb", "web_app"]
    web = stack.layers["web_app"]
    assert web.recipes == {"setup": ("nodejs_demo::setup",), "deploy": ("nodejs_demo::deploy",)}
    assert web.packages == ("curl",)
    assert web.custom_json == {"port": 8080}
    assert web.auto_healing is True and web.auto_healing_after == 300.0
    assert web.shutdown_timeout == 30.0
    assert web.location == Location("stack.yml", 14, 3)
    assert stack.layers["lb"].shutdown_timeout == 120.0

    assert {n: (i.layers, i.hostname) for n, i in stack.instances.items()} == {
        "a": (("web_app",), "web-app1"),
        "b": (("web_app", "lb"), "web-app2"),
        "c": (("lb",), "balancer"),
    }
    assert stack.instances["b"].custom_json == {"x": 1}

    hello = stack.apps["hello"]
    assert hello.layers == ("web_app",)
    assert hello.source.type == "directory"
    assert hello.source.options == {"path": in_tmp.parent / "apps" / "hello", "fetch": "local"}
    assert hello.environment == {
        "GREETING": EnvValue("hi"),
        "WORKERS": EnvValue("4"),
        "DEBUG": EnvValue("false"),
        "SECRET": EnvValue("s3cr3t", secure=True),
    }
    assert hello.deploy == DeploySettings(
        strategy="rolling",
        batch="30%",
        keep_releases=3,
        max_failures=1,
        health_check=HealthCheck("curl -f localhost", timeout=5.0, retries=2, interval=0.5),
        options={"drain": 10},
        load_balancer=BalancerSettings(type="haproxy", layer="lb", backend="web_app"),  # the default: layer lb
    )
    assert stack.apps["site"].source.options == {"url": "https://example.invalid/site.git", "revision": "1234"}
    assert stack.apps["site"].deploy == DeploySettings()
    assert stack.apps["blob"].source.options == {"bucket": "b", "key": "site.tgz", "fetch": "remote"}


def test_marks_point_at_the_users_file(in_tmp):
    write(in_tmp, "stack.yml", GOOD)
    stack = load_stack("stack.yml", SOURCES)
    assert stack.where("layers", "web_app", "recipes", "setup", 0) == Location("stack.yml", 17, 15)
    assert stack.where("stack", "provider") == Location("stack.yml", 3, 13)
    assert stack.where("layers", "web_app") == Location("stack.yml", 14, 3)  # a mapping: at its key
    assert stack.where("apps", "hello", "deploy", "strategy") == Location("stack.yml", 32, 17)
    assert stack.where("apps", "hello", "nothing", "here") == Location("stack.yml", 27, 3)


def test_defaults(in_tmp):
    write(in_tmp, "stack.yml", """\
        stack: {name: tiny}
        layers: {app: }
        instances: {web1: {layers: [app], address: 10.0.0.5, port: 22, user: deploy, key: k}}
        """)
    stack = load_stack("stack.yml", SOURCES)
    assert stack.provider == "static"
    assert stack.hostname_theme == "Layer_Dependent"
    assert stack.layers["app"].recipes == {}
    web1 = stack.instances["web1"]
    assert (web1.address, web1.port, web1.user, web1.key) == ("10.0.0.5", 22, "deploy", in_tmp / "k")
    assert web1.hostname == "app1"


def test_list_theme_hostnames(in_tmp):
    write(in_tmp, "stack.yml", """\
        stack: {name: s, provider: docker, hostname_theme: Fruits}
        layers: {app: {}}
        instances: {x: {layers: [app]}, y: {layers: [app], hostname: apple}, z: {layers: [app]}}
        """)
    assert {n: i.hostname for n, i in load_stack("stack.yml", SOURCES).instances.items()} == {
        "x": "apricot", "y": "apple", "z": "banana",
    }


def test_tilde_expands(in_tmp):
    write(in_tmp, "stack.yml", "stack: {name: s, ssh: {key: ~/.ssh/id_ed25519}}\n")
    assert load_stack("stack.yml", SOURCES).ssh.key == Path.home() / ".ssh" / "id_ed25519"


# -- includes ---------------------------------------------------------------


def test_includes_merge_with_the_including_file_winning(in_tmp):
    write(in_tmp, "stack.yml", """\
        stack:
          name: s
          provider: docker
          custom_json: {db: {host: main}, top: main}
        include: [parts/common.yml]
        layers:
          app: {packages: [vim]}
        instances:
          app1: {layers: [app]}
        """)
    write(in_tmp, "parts/common.yml", """\
        include: [more.yml]
        custom_json: {db: {port: 5432, host: common}}
        layers:
          app: {packages: [emacs]}
          db: {packages: [postgresql]}
        instances:
          db1: {layers: [db]}
        apps:
          hello: {layers: [app], source: {type: directory, path: hello}}
        """)
    write(in_tmp, "parts/more.yml", """\
        custom_json: {deep: true}
        layers:
          cache: {}
        """)
    stack = load_stack("stack.yml", SOURCES)
    assert list(stack.layers) == ["cache", "app", "db"]
    assert stack.layers["app"].packages == ("vim",)
    assert stack.layers["db"].location == Location("parts/common.yml", 5, 3)
    assert stack.custom_json == {"deep": True, "db": {"port": 5432, "host": "main"}, "top": "main"}
    assert stack.where("stack", "custom_json", "db", "port") == Location("parts/common.yml", 2, 26)
    assert stack.where("layers", "app", "packages", 0) == Location("stack.yml", 7, 20)
    assert set(stack.instances) == {"db1", "app1"}
    # paths in an included file are relative to that file
    assert stack.apps["hello"].source.options["path"] == in_tmp / "parts" / "hello"


def test_errors_in_included_files_point_into_them(in_tmp):
    write(in_tmp, "stack.yml", "stack: {name: s, provider: docker}\ninclude: [layers.yml]\n")
    write(in_tmp, "layers.yml", "layers:\n  app: {packges: [vim]}\n")
    with pytest.raises(UserErrors) as info:
        load_stack("stack.yml", SOURCES)
    assert [str(e) for e in info.value.errors] == [
        "layers.yml:2:9: layers.app: unknown key 'packges' (did you mean 'packages'?)"
    ]


def test_include_cycle_is_reported_at_the_include_entry(in_tmp):
    write(in_tmp, "b.yml", "include: [c.yml]\n")
    write(in_tmp, "c.yml", "layers: {}\ninclude: [other.yml, a.yml]\n")
    write(in_tmp, "other.yml", "layers: {}\n")
    assert errors_of(in_tmp, "stack: {name: s}\ninclude: [b.yml]\n", name="a.yml") == [
        "c.yml:2:22: include cycle: a.yml -> b.yml -> c.yml -> a.yml"
    ]


def test_self_include_is_a_cycle(in_tmp):
    assert errors_of(in_tmp, "stack: {name: s}\ninclude: [stack.yml]\n") == [
        "stack.yml:2:11: include cycle: stack.yml -> stack.yml"
    ]


# -- errors -------------------------------------------------------------------

CASES = {
    "bad yaml": (
        "stack:\n  name: x\n layers: {}\n",
        ["stack.yml:3:2: invalid YAML: expected <block end>, but found '<block mapping start>'"
         " (while parsing a block mapping at line 1)"],
    ),
    "duplicate key": (
        "stack: {name: x, provider: docker}\nlayers:\n  app: {}\n  app: {}\n",
        ["stack.yml:4:3: duplicate key 'app' (first at line 3)"],
    ),
    "non-string key": (
        "stack: {name: x, provider: docker}\nlayers:\n  1: {}\n",
        ["stack.yml:3:3: mapping keys must be strings, got integer 1"],
    ),
    "not a mapping": (
        "- stack\n",
        ["stack.yml:1:1: expected a mapping, got a list"],
    ),
    "missing stack": (
        "layers: {}\n",
        ["stack.yml:1:1: missing required key 'stack'"],
    ),
    "missing stack.name": (
        "stack:\n  provider: docker\n",
        ["stack.yml:1:1: stack: missing required key 'name'"],
    ),
    "unknown top-level key": (
        "stack: {name: x}\nlayer: {}\n",
        ["stack.yml:2:1: unknown top-level key 'layer' (did you mean 'layers'?)"],
    ),
    "unknown stack key": (
        "stack:\n  name: x\n  provder: docker\n",
        ["stack.yml:3:3: stack: unknown key 'provder' (did you mean 'provider'?)"],
    ),
    "unknown ssh key": (
        "stack:\n  name: x\n  ssh: {prot: 22}\n",
        ["stack.yml:3:9: stack.ssh: unknown key 'prot' (did you mean 'port'?)"],
    ),
    "wrong type: port": (
        "stack:\n  name: x\n  ssh:\n    port: abc\n",
        ["stack.yml:4:11: stack.ssh.port: expected an integer, got string 'abc'"],
    ),
    "stack name with a path and a shell command": (
        "stack: {name: 'x/../../../../tmp/pwned-stack $(touch /tmp/pwn1)'}\n",
        ["stack.yml:1:9: stack.name: invalid stack name 'x/../../../../tmp/pwned-stack $(touch /tmp/pwn1)'"
         " (use letters, digits, '_' and '-', starting with a letter or digit)"],
    ),
    "stack name with a dot": (
        "stack:\n  name: .hidden\n",
        ["stack.yml:2:3: stack.name: invalid stack name '.hidden'"
         " (use letters, digits, '_' and '-', starting with a letter or digit)"],
    ),
    "connect_timeout not a number": (
        "stack:\n  name: x\n  ssh: {connect_timeout: .nan}\n",
        ["stack.yml:3:26: stack.ssh.connect_timeout: must be a finite number, got nan"],
    ),
    "command_timeout infinite": (
        "stack:\n  name: x\n  ssh: {command_timeout: .inf}\n",
        ["stack.yml:3:26: stack.ssh.command_timeout: must be a finite number, got inf"],
    ),
    "connect_timeout negative": (
        "stack:\n  name: x\n  ssh: {connect_timeout: -1}\n",
        ["stack.yml:3:26: stack.ssh.connect_timeout: must be at least 0, got -1"],
    ),
    "shutdown_timeout minus infinity": (
        "stack: {name: x}\nlayers:\n  app: {shutdown_timeout: -.inf}\n",
        ["stack.yml:3:27: layers.app.shutdown_timeout: must be a finite number, got -inf"],
    ),
    "wrong type: name": (
        "stack: {name: [a]}\n",
        ["stack.yml:1:15: stack.name: expected a string, got a list"],
    ),
    "wrong type: layers": (
        "stack: {name: x}\nlayers: [app]\n",
        ["stack.yml:2:9: layers: expected a mapping, got a list"],
    ),
    "wrong type: custom_json": (
        "stack: {name: x, custom_json: 5}\n",
        ["stack.yml:1:31: stack.custom_json: expected a mapping, got integer 5"],
    ),
    "wrong type: use_agent": (
        "stack: {name: x, ssh: {use_agent: 'no'}}\n",
        ["stack.yml:1:35: stack.ssh.use_agent: expected a boolean (true or false), got string 'no'"],
    ),
    "port out of range": (
        "stack: {name: x, ssh: {port: 0}}\n",
        ["stack.yml:1:30: stack.ssh.port: must be at least 1, got 0"],
    ),
    "host key policy": (
        "stack: {name: x, ssh: {host_key_policy: loose}}\n",
        ["stack.yml:1:41: stack.ssh.host_key_policy: unknown host key policy 'loose'"
         " (expected one of: strict, accept-new, off)"],
    ),
    "host key policy typo": (
        "stack: {name: x, ssh: {host_key_policy: stritc}}\n",
        ["stack.yml:1:41: stack.ssh.host_key_policy: unknown host key policy 'stritc' (did you mean 'strict'?)"],
    ),
    "hostname theme": (
        "stack: {name: x, hostname_theme: Fruit}\n",
        ["stack.yml:1:34: stack.hostname_theme: unknown hostname theme 'Fruit' (did you mean 'Fruits'?)"],
    ),
    "old spelling of Europe_Cities": (
        "stack: {name: x, hostname_theme: European_Cities}\n",
        ["stack.yml:1:34: stack.hostname_theme: unknown hostname theme 'European_Cities'"
         " (did you mean 'Europe_Cities'? themes are spelled as in OpsWorks)"],
    ),
    "old spelling of Greek_Deities_and_Titans": (
        "stack: {name: x, hostname_theme: Greek_Deities}\n",
        ["stack.yml:1:34: stack.hostname_theme: unknown hostname theme 'Greek_Deities'"
         " (did you mean 'Greek_Deities_and_Titans'? themes are spelled as in OpsWorks)"],
    ),
    "cookbooks not a list": (
        "stack: {name: x, cookbooks: ../cookbooks}\n",
        ["stack.yml:1:29: stack.cookbooks: expected a list of cookbook sources ({path: DIR}, {git: URL}, "
         "{archive: FILE_OR_URL}, {s3: URI}, {package: NAME}), got string '../cookbooks'"],
    ),
    "cookbook entry key": (
        "stack: {name: x, cookbooks: [{pth: a}]}\n",
        ["stack.yml:1:30: stack.cookbooks[0]: a cookbook source needs one of path, git, archive, s3, package",
         "stack.yml:1:31: stack.cookbooks[0]: unknown key 'pth' (did you mean 'path'?)"],
    ),
    "unknown layer key": (
        "stack: {name: x}\nlayers:\n  app:\n    recipe: {setup: [base]}\n",
        ["stack.yml:4:5: layers.app: unknown key 'recipe' (did you mean 'recipes'?)"],
    ),
    "unknown event": (
        "stack: {name: x}\nlayers:\n  app:\n    recipes:\n      deplyo: [app]\n",
        ["stack.yml:5:7: layers.app.recipes: unknown lifecycle event 'deplyo' (did you mean 'deploy'?)"],
    ),
    "unknown event, no close match": (
        "stack: {name: x}\nlayers:\n  app:\n    recipes: {boot: [app]}\n",
        ["stack.yml:4:15: layers.app.recipes: unknown lifecycle event 'boot'"
         " (expected one of: setup, configure, deploy, undeploy, shutdown)"],
    ),
    "recipe not a string": (
        "stack: {name: x}\nlayers:\n  app:\n    recipes: {setup: [base, 7]}\n",
        ["stack.yml:4:29: layers.app.recipes.setup[1]: expected a string, got integer 7"],
    ),
    "recipe name format": (
        "stack: {name: x}\nlayers:\n  app:\n    recipes: {setup: ['a::b::c']}\n",
        ["stack.yml:4:23: layers.app.recipes.setup[0]: invalid recipe name 'a::b::c'"
         " (write 'cookbook' or 'cookbook::recipe')"],
    ),
    "packages": (
        "stack: {name: x}\nlayers:\n  app: {packages: curl}\n",
        ["stack.yml:3:19: layers.app.packages: expected a list of strings, got string 'curl'"],
    ),
    "auto_healing": (
        "stack: {name: x}\nlayers:\n  app: {auto_healing: 1}\n",
        ["stack.yml:3:23: layers.app.auto_healing: expected true, false or {after: DURATION}, got integer 1"],
    ),
    "shutdown_timeout": (
        "stack: {name: x}\nlayers:\n  app: {shutdown_timeout: soon}\n",
        ["stack.yml:3:27: layers.app.shutdown_timeout: expected a number, got string 'soon'"],
    ),
    "layer name": (
        "stack: {name: x}\nlayers:\n  web.app: {}\n",
        ["stack.yml:3:3: layers.web.app: invalid layer name 'web.app'"
         " (use letters, digits, '_' and '-', starting with a letter or digit)"],
    ),
    "instance name": (
        "stack: {name: x, provider: docker}\nlayers: {app: {}}\ninstances:\n  -web1: {layers: [app]}\n",
        ["stack.yml:4:3: instances.-web1: invalid instance name '-web1'"
         " (use letters, digits, '_' and '-', starting with a letter or digit)"],
    ),
    "instance unknown layer": (
        "stack: {name: x, provider: docker}\nlayers: {app: {}}\ninstances:\n  web1: {layers: [ap]}\n",
        ["stack.yml:4:19: instances.web1.layers[0]: unknown layer 'ap' (did you mean 'app'?)"],
    ),
    "instance without layers": (
        "stack: {name: x, provider: docker}\nlayers: {app: {}}\ninstances:\n  web1: {hostname: w}\n",
        ["stack.yml:4:3: instances.web1: missing required key 'layers'"],
    ),
    "instance empty layers": (
        "stack: {name: x, provider: docker}\nlayers: {app: {}}\ninstances:\n  web1: {layers: []}\n",
        ["stack.yml:4:18: instances.web1.layers: must name at least one layer"],
    ),
    "unknown instance key": (
        "stack: {name: x, provider: docker}\nlayers: {app: {}}\ninstances:\n  web1: {layers: [app], adress: h}\n",
        ["stack.yml:4:25: instances.web1: unknown key 'adress' (did you mean 'address'?)"],
    ),
    "instance port": (
        "stack: {name: x}\nlayers: {app: {}}\ninstances:\n  web1: {layers: [app], address: h, port: '22'}\n",
        ["stack.yml:4:43: instances.web1.port: expected an integer, got string '22'"],
    ),
    "invalid hostname": (
        "stack: {name: x, provider: docker}\nlayers: {app: {}}\ninstances:\n  web1: {layers: [app], hostname: Web_1}\n",
        ["stack.yml:4:35: instances.web1.hostname: invalid hostname 'Web_1'"
         " (use lower-case letters, digits, '-' and '.')"],
    ),
    "duplicate hostname": (
        "stack: {name: x, provider: docker}\nlayers: {app: {}}\ninstances:\n"
        "  a: {layers: [app], hostname: web}\n  b: {layers: [app], hostname: web}\n",
        ["stack.yml:5:32: instances.b.hostname: hostname 'web' is already used by instance 'a'"],
    ),
    "static needs address": (
        "stack: {name: x, provider: static}\nlayers: {app: {}}\ninstances:\n"
        "  web1: {layers: [app], address: 10.0.0.1}\n  web2: {layers: [app]}\n",
        ["stack.yml:5:3: instances.web2: missing required key 'address'"
         " (provider 'static' needs an address for every instance)"],
    ),
    "app unknown layer": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello: {layers: [ap], source: {type: git, url: u}}\n",
        ["stack.yml:4:20: apps.hello.layers[0]: unknown layer 'ap' (did you mean 'app'?)"],
    ),
    "app missing source": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello: {layers: [app]}\n",
        ["stack.yml:4:3: apps.hello: missing required key 'source'"],
    ),
    "app unknown key": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n"
        "  hello: {layers: [app], source: {type: git, url: u}, enviroment: {}}\n",
        ["stack.yml:4:55: apps.hello: unknown key 'enviroment' (did you mean 'environment'?)"],
    ),
    "source type": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello: {layers: [app], source: {type: svn}}\n",
        ["stack.yml:4:41: apps.hello.source.type: unknown app source type 'svn'"
         " (expected one of: directory, archive, git, s3)"],
    ),
    "source without type": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello: {layers: [app], source: {path: x}}\n",
        ["stack.yml:4:26: apps.hello.source: missing required key 'type'"],
    ),
    "directory without path": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello: {layers: [app], source: {type: directory}}\n",
        ["stack.yml:4:26: apps.hello.source: directory source needs 'path' (a directory on this machine)"],
    ),
    "directory with url": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello: {layers: [app], source: {type: directory, url: u}}\n",
        ["stack.yml:4:26: apps.hello.source: directory source needs 'path' (a directory on this machine)",
         "stack.yml:4:52: apps.hello.source: unknown key 'url'"],
    ),
    "directory fetched remotely": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello: {layers: [app], source: {type: directory, path: a, "
        "fetch: remote}}\n",
        ["stack.yml:4:68: apps.hello.source.fetch: a directory source is on this machine: it is always packed here "
         "and streamed; 'fetch: remote' is for archive (url), git and s3"],
    ),
    "archive path fetched remotely": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello: {layers: [app], source: {type: archive, path: a.tgz, "
        "fetch: remote}}\n",
        ["stack.yml:4:70: apps.hello.source.fetch: 'fetch: remote' needs the archive at a 'url' the hosts can "
         "reach, not a local 'path'"],
    ),
    "archive with path and url": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n"
        "  hello: {layers: [app], source: {type: archive, path: a, url: b}}\n",
        ["stack.yml:4:26: apps.hello.source: archive source takes 'path' or 'url', not both"],
    ),
    "git without url": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello: {layers: [app], source: {type: git, revision: main}}\n",
        ["stack.yml:4:26: apps.hello.source: missing required key 'url'"],
    ),
    "git with path": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello: {layers: [app], source: {type: git, url: u, path: p}}\n",
        ["stack.yml:4:54: apps.hello.source: unknown key 'path'"],
    ),
    "s3 without key": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello: {layers: [app], source: {type: s3, bucket: b}}\n",
        ["stack.yml:4:26: apps.hello.source: missing required key 'key'"],
    ),
    "fetch mode": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n"
        "  hello: {layers: [app], source: {type: git, url: u, fetch: here}}\n",
        ["stack.yml:4:61: apps.hello.source.fetch: unknown fetch mode 'here' (expected one of: local, remote)"],
    ),
    "environment null value": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello:\n    layers: [app]\n    source: {type: git, url: u}\n"
        "    environment: {TOKEN: null}\n",
        ["stack.yml:7:26: apps.hello.environment.TOKEN: expected a string, number, boolean or {value, secure},"
         " got null"],
    ),
    "environment list value": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello:\n    layers: [app]\n    source: {type: git, url: u}\n"
        "    environment: {TOKEN: [a]}\n",
        ["stack.yml:7:26: apps.hello.environment.TOKEN: expected a string, number, boolean or {value, secure},"
         " got a list"],
    ),
    "environment secure": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello:\n    layers: [app]\n    source: {type: git, url: u}\n"
        "    environment: {TOKEN: {value: t, secure: 'yes'}}\n",
        ["stack.yml:7:45: apps.hello.environment.TOKEN.secure: expected a boolean (true or false), got string 'yes'"],
    ),
    "environment secure without value": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello:\n    layers: [app]\n    source: {type: git, url: u}\n"
        "    environment: {TOKEN: {secure: true, vaule: t}}\n",
        ["stack.yml:7:19: apps.hello.environment.TOKEN: missing required key 'value'",
         "stack.yml:7:41: apps.hello.environment.TOKEN: unknown key 'vaule' (did you mean 'value'?)"],
    ),
    "environment name": (
        "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello:\n    layers: [app]\n    source: {type: git, url: u}\n"
        "    environment: {MY-VAR: 1}\n",
        ["stack.yml:7:19: apps.hello.environment.MY-VAR: invalid environment variable name 'MY-VAR'"],
    ),
}

DEPLOY = "stack: {name: x}\nlayers: {app: {}}\napps:\n  hello:\n    layers: [app]\n    source: {type: git, url: u}\n"
DEPLOY_CASES = {
    "strategy type": (
        "    deploy: {strategy: 1}\n", "7:24: apps.hello.deploy.strategy: expected a string, got integer 1"
    ),
    "batch word": (
        "    deploy: {batch: half}\n",
        "7:21: apps.hello.deploy.batch: expected an integer or a percentage such as '30%', got string 'half'",
    ),
    "batch zero": ("    deploy: {batch: 0}\n", "7:21: apps.hello.deploy.batch: must be at least 1, got 0"),
    "batch percent": (
        "    deploy: {batch: 120%}\n",
        "7:21: apps.hello.deploy.batch: percentage must be between 1% and 100%, got 120%",
    ),
    "keep_releases": (
        "    deploy: {keep_releases: 0}\n", "7:29: apps.hello.deploy.keep_releases: must be at least 1, got 0"
    ),
    "max_failures": (
        "    deploy: {max_failures: -1}\n", "7:28: apps.hello.deploy.max_failures: must be at least 0, got -1"
    ),
    "unknown deploy key": (
        "    deploy: {stratgy: rolling}\n",
        "7:14: apps.hello.deploy: unknown key 'stratgy' (did you mean 'strategy'?)",
    ),
    "health check command": (
        "    deploy:\n      health_check: {timeout: 5}\n",
        "8:7: apps.hello.deploy.health_check: missing required key 'command'",
    ),
    "health check timeout": (
        "    deploy:\n      health_check: {command: c, timeout: long}\n",
        "8:43: apps.hello.deploy.health_check.timeout: expected a number, got string 'long'",
    ),
    "health check retries": (
        "    deploy:\n      health_check: {command: c, retries: 1.5}\n",
        "8:43: apps.hello.deploy.health_check.retries: expected an integer, got number 1.5",
    ),
    "health check timeout not a number": (
        "    deploy:\n      health_check: {command: c, timeout: .NaN}\n",
        "8:43: apps.hello.deploy.health_check.timeout: must be a finite number, got nan",
    ),
    "health check interval infinite": (
        "    deploy:\n      health_check: {command: c, interval: .inf}\n",
        "8:44: apps.hello.deploy.health_check.interval: must be a finite number, got inf",
    ),
    "health check interval negative": (
        "    deploy:\n      health_check: {command: c, interval: -0.5}\n",
        "8:44: apps.hello.deploy.health_check.interval: must be at least 0, got -0.5",
    ),
    "health check retries negative": (
        "    deploy:\n      health_check: {command: c, retries: -5}\n",
        "8:43: apps.hello.deploy.health_check.retries: must be at least 0, got -5",
    ),
    "health check key": (
        "    deploy:\n      health_check: {command: c, intervl: 2}\n",
        "8:34: apps.hello.deploy.health_check: unknown key 'intervl' (did you mean 'interval'?)",
    ),
}
for _name, (_tail, _expected) in DEPLOY_CASES.items():
    CASES[f"deploy: {_name}"] = (DEPLOY + _tail, [f"stack.yml:{_expected}"])


@pytest.mark.parametrize("text, expected", list(CASES.values()), ids=list(CASES))
def test_errors(in_tmp, text, expected):
    assert errors_of(in_tmp, text) == expected


def test_all_errors_are_collected_in_file_order(in_tmp):
    text = """\
        stack:
          name: x
          provider: docker
          ssh: {port: abc}
        layers:
          app:
            recipes: {deplyo: [x]}
        instances:
          web1: {layers: [ap]}
        """
    assert errors_of(in_tmp, text) == [
        "stack.yml:4:15: stack.ssh.port: expected an integer, got string 'abc'",
        "stack.yml:7:15: layers.app.recipes: unknown lifecycle event 'deplyo' (did you mean 'deploy'?)",
        "stack.yml:9:19: instances.web1.layers[0]: unknown layer 'ap' (did you mean 'app'?)",
    ]


def test_missing_included_file(in_tmp):
    assert errors_of(in_tmp, "stack: {name: s}\ninclude: [nope.yml]\n") == [
        "stack.yml:2:11: included file 'nope.yml' does not exist"
    ]


def test_stack_key_in_included_file_is_unknown(in_tmp):
    write(in_tmp, "part.yml", "stack: {name: other}\n")
    assert errors_of(in_tmp, "stack: {name: s}\ninclude: [part.yml]\n") == [
        "part.yml:1:1: unknown top-level key 'stack'"
    ]


def test_missing_stack_file(in_tmp):
    with pytest.raises(UserErrors) as info:
        load_stack("nope.yml", SOURCES)
    assert str(info.value) == "nope.yml: cannot read file: No such file or directory"


def test_keepalive_settings_are_read_and_checked_with_their_place(in_tmp):
    write(in_tmp, "stack.yml", """\
        stack:
          name: ka
          ssh: {keepalive_interval: 2.5, keepalive_count: 4}
        """)
    ssh = load_stack("stack.yml", SOURCES).ssh
    assert (ssh.keepalive_interval, ssh.keepalive_count) == (2.5, 4)
    write(in_tmp, "other.yml", "stack: {name: ka}\n")
    ssh = load_stack("other.yml", SOURCES).ssh
    assert ssh.keepalive_interval * ssh.keepalive_count == 30  # a host that stopped answering: ~30 s
    errors = errors_of(in_tmp, """\
        stack:
          name: ka
          ssh: {keepalive_interval: 0, keepalive_count: "3"}
        """)
    assert any(e.startswith("stack.yml:3:") and "keepalive_interval" in e for e in errors), errors
    assert any(e.startswith("stack.yml:3:") and "keepalive_count" in e and "integer" in e for e in errors), errors
