"""runner.importer.write and `runner import opsworks`: OpsWorks stacks (built here, as the readers would)
written as stack.yml and MIGRATION.md, loaded and validated as runner would."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from runner.cli.api import CommandContext
from runner.cli.commands import import_
from runner.cookbooks.validate import load_and_validate
from runner.errors import UserError, UserErrors
from runner.importer import read
from runner.importer.model import (
    MISSING_SECRET,
    OpsApp,
    OpsInstance,
    OpsLayer,
    OpsSource,
    OpsStack,
    Where,
)
from runner.importer.write import migration_md, s3_parts, to_stack_yaml
from runner.model.loader import load_stack
from runner.plugin.registry import Registry


def chef12_stack() -> OpsStack:
    """A Chef 12 stack with custom cookbooks from git, one custom layer, a protected env value."""
    layer = OpsLayer("AppLayer", "custom", "App servers", "app",
                     custom_recipes={"Setup": ["myapp::setup"], "Deploy": ["myapp::deploy", "myapp"],
                                     "Shutdown": ["myapp::stop"]},
                     packages=["git", "curl", "git"], custom_json={"myapp": {"port": 8080}},
                     enable_auto_healing=True, shutdown_execution_timeout=90,
                     custom_security_group_ids=["sg-0123"], volume_configurations=[{"MountPoint": "/data"}],
                     auto_assign_elastic_ips=True, where=Where("t.yml", 20))
    return OpsStack(
        "My Chef12 Stack", region="eu-west-1", default_subnet_id="subnet-1", default_os="Ubuntu 20.04 LTS",
        default_ssh_key_name="ops", default_root_device_type="ebs", hostname_theme="Layer_Dependent",
        custom_json={"env": "production"}, use_custom_cookbooks=True,
        custom_cookbooks_source=OpsSource("git", "https://git.example.com/cookbooks.git", "v1.2",
                                          ssh_key=MISSING_SECRET),
        configuration_manager={"Name": "Chef", "Version": "12"}, agent_version="LATEST",
        layers=[layer],
        instances=[OpsInstance("i-1", "app1", ["AppLayer"], instance_type="t3.small"),
                   OpsInstance("i-2", "app2", ["AppLayer"], instance_type="t3.small", ami_id="ami-123",
                               root_device_type="instance-store")],
        apps=[OpsApp("a1", "My App", "myapp", "other",
                     source=OpsSource("git", "https://git.example.com/myapp.git", "main"),
                     environment=[{"Key": "GREETING", "Value": "hi", "Secure": False},
                                  {"Key": "API_TOKEN", "Value": MISSING_SECRET, "Secure": True}])],
        user_profiles=[{"IamUserArn": "arn:aws:iam::1:user/bob"}], where=Where("t.yml", 1))


def chef11_stack() -> OpsStack:
    """A Chef 11.10 stack with Berkshelf and built-in layers: HAProxy, Node.js, memcached."""
    return OpsStack(
        "legacy", region="us-east-1", default_os="Amazon Linux 2", hostname_theme="European_Cities",
        configuration_manager={"Name": "Chef", "Version": "11.10"},
        chef_configuration={"ManageBerkshelf": True, "BerkshelfVersion": "3.2.0"},
        use_custom_cookbooks=True, custom_cookbooks_source=OpsSource("archive", "https://example.com/cb.tgz"),
        layers=[OpsLayer("L1", "lb", "HAProxy", "lb", attributes={"HaproxyHealthCheckUrl": "/ping",
                                                                  "EnableHaproxyStats": "true"}),
                OpsLayer("L2", "nodejs-app", "Node.js App Server", "nodejs-app",
                         custom_recipes={"Deploy": ["extras::deploy"]}),
                OpsLayer("L3", "memcached", "Memcached", "memcached")],
        instances=[OpsInstance("i-1", "lb1", ["L1"], instance_type="t2.micro"),
                   OpsInstance("i-2", "web1", ["L2"], instance_type="t2.small"),
                   OpsInstance("i-3", "cache1", ["L3"], instance_type="t2.small")],
        apps=[OpsApp("a1", "Shop", "shop", "nodejs",
                     source=OpsSource("s3", "https://s3-eu-west-1.amazonaws.com/bucket/app/shop.tgz",
                                      username="AKIA", password=MISSING_SECRET))])


def scaling_stack() -> OpsStack:
    up = {"InstanceCount": 2, "ThresholdsWaitTime": 5, "IgnoreMetricsTime": 10, "CpuThreshold": 80.0,
          "MemoryThreshold": -1, "LoadThreshold": 4.0}
    down = {"InstanceCount": 1, "ThresholdsWaitTime": 10, "IgnoreMetricsTime": 10, "CpuThreshold": 30.0}
    return OpsStack(
        "scaling", region="us-west-2", default_os="Custom",
        layers=[OpsLayer("W", "custom", "Web", "web-tier", custom_recipes={"Setup": ["web::setup"]},
                         load_based={"Enable": True, "UpScaling": up, "DownScaling": down})],
        instances=[OpsInstance("i-1", "web1", ["W"], instance_type="m5.large", ami_id="ami-1"),
                   OpsInstance("i-2", "web2", ["W"], instance_type="m5.large", ami_id="ami-1",
                               auto_scaling_type="load"),
                   OpsInstance("i-3", "web3", ["W"], instance_type="m5.large", ami_id="ami-1",
                               auto_scaling_type="timer",
                               time_based_schedule={"Monday": {"9": "on", "10": "on"}, "Tuesday": {}})])


def rds_stack() -> OpsStack:
    arn = "arn:aws:rds:eu-west-1:123456789012:db:shopdb"
    return OpsStack(
        "rds", region="eu-west-1", default_os="Custom",
        rds_db_instances=[{"RdsDbInstanceArn": arn, "DbUser": "shop", "DbPassword": MISSING_SECRET,
                           "Engine": "postgres", "Address": "shopdb.abc.eu-west-1.rds.amazonaws.com"}],
        layers=[OpsLayer("R", "rails-app", "Rails", "rails-app"), OpsLayer("C", "custom", "Workers", "workers")],
        instances=[OpsInstance("i-1", "rails1", ["R"], instance_type="t3.small", ami_id="ami-1")],
        apps=[OpsApp("a", "Store", "store", "rails",
                     source=OpsSource("archive", "https://example.com/store.zip"),
                     data_sources=[{"Type": "RdsDbInstance", "Arn": arn, "DatabaseName": "store"}],
                     domains=["store.example.com"], enable_ssl=True,
                     ssl_configuration={"Certificate": "---", "PrivateKey": MISSING_SECRET},
                     attributes={"DocumentRoot": "public", "RailsEnv": "production", "AutoBundleOnDeploy": "true"})])


def write(tmp_path: Path, stack: OpsStack, **kw) -> tuple[Path, dict, list[str]]:
    text, items = to_stack_yaml(stack, **kw)
    path = tmp_path / "stack.yml"
    path.write_text(text)
    return path, yaml.safe_load(text.replace("!encrypted", "")), items


def add_stub_cookbooks(path: Path) -> None:
    """Point the stack at stub cookbooks with every recipe its layers name (instead of its sources)."""
    data = yaml.safe_load(path.read_text().replace("!encrypted", ""))
    books: dict[str, set[str]] = {}
    for layer in (data.get("layers") or {}).values():
        for names in (layer.get("recipes") or {}).values():
            for ref in names:
                book, _, recipe = ref.partition("::")
                books.setdefault(book, set()).add(recipe or "default")
    root = path.parent / "stubs"
    root.mkdir()
    for book, recipes in books.items():
        (root / book / "recipes").mkdir(parents=True)
        (root / book / "metadata.yml").write_text(f"name: {book}\nversion: 0.1.0\n")
        for recipe in recipes:
            (root / book / "recipes" / f"{recipe}.py").write_text("pass\n")
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  cookbooks:"))
    end = at + 1
    while end < len(lines) and lines[end].startswith("    "):  # bounded by the lines: the entries
        end += 1
    path.write_text("\n".join([*lines[:at], "  cookbooks: [stubs]", *lines[end:]]) + "\n")


def validate(path: Path):
    registry = Registry.load()
    return load_and_validate(path, known_providers=dict(registry.providers),
                             known_strategies=set(registry.strategies),
                             known_balancers=set(registry.load_balancers),
                             known_sources={n: t.declaration() for n, t in registry.app_sources.items()},
                             registry=registry)


def test_chef12_stack_with_git_cookbooks(tmp_path):
    path, data, items = write(tmp_path, chef12_stack())
    stack = data["stack"]
    assert stack["name"] == "My-Chef12-Stack"
    assert stack["provider"] == "ec2"
    assert stack["cookbooks"] == [{"git": "https://git.example.com/cookbooks.git", "ref": "v1.2"}]
    assert stack["custom_json"] == {"env": "production"}
    assert stack["hostname_theme"] == "Layer_Dependent"
    options = stack["provider_options"]
    assert options["region"] == "eu-west-1" and options["subnet_id"] == "subnet-1"
    assert options["key_name"] == "ops" and options["root_device_type"] == "ebs"
    assert options["image_id"].startswith("FILL IN")
    assert stack["ssh"]["user"] == "ubuntu"
    layer = data["layers"]["app"]
    assert layer["recipes"] == {"setup": ["myapp::setup"], "deploy": ["myapp::deploy", "myapp"],
                                "shutdown": ["myapp::stop"]}
    assert layer["packages"] == ["git", "curl"]
    assert layer["auto_healing"] is True and layer["shutdown_timeout"] == 90
    assert layer["provider_options"] == {"security_group_ids": ["sg-0123"]}
    assert data["instances"]["app2"]["provider_options"] == {"instance_type": "t3.small", "image_id": "ami-123",
                                                             "root_device_type": "instance-store"}
    assert data["apps"]["myapp"]["layers"] == ["app"]  # the one custom layer
    assert data["apps"]["myapp"]["source"] == {"type": "git", "url": "https://git.example.com/myapp.git",
                                               "revision": "main"}
    text = "\n".join(items)
    for word in ("SshKey", "VolumeConfiguration", "AutoAssignElasticIps", "UserProfile", "AgentVersion",
                 "DefaultOs"):
        assert word in text
    load_stack(path, reveal=lambda value: "decrypted")  # loads as runner reads it


def test_chef12_stack_validates_but_for_the_secret_to_fill_in(tmp_path):
    path, _, _ = write(tmp_path, chef12_stack())
    add_stub_cookbooks(path)
    with pytest.raises(UserErrors) as caught:
        validate(path)
    assert len(caught.value.errors) == 1
    error = caught.value.errors[0]
    assert error.message.startswith("!encrypted value")
    lines = path.read_text().splitlines()
    assert "API_TOKEN: !encrypted" in lines[error.location.line - 1]
    assert "FILL IN: app myapp environment API_TOKEN" in lines[error.location.line - 1]
    assert "runner secrets encrypt" in lines[error.location.line - 3] + lines[error.location.line - 2]


def test_filled_in_secret_passes(tmp_path, monkeypatch):
    from runner.secrets import age

    path, _, _ = write(tmp_path, chef12_stack())
    add_stub_cookbooks(path)
    secret, public = age.generate()
    armored = age.encrypt("s3cr3t-token", [public])
    text = path.read_text().replace("!encrypted 'FILL IN: app myapp environment API_TOKEN'",
                                    "!encrypted |\n        " + armored.strip().replace("\n", "\n        "))
    path.write_text(text)
    monkeypatch.setenv("RUNNER_AGE_KEY", secret)
    assert validate(path).apps["myapp"].environment["API_TOKEN"].secure


def test_chef11_builtin_layers_and_haproxy(tmp_path):
    stack = chef11_stack()
    path, data, items = write(tmp_path, stack)
    assert data["stack"]["hostname_theme"] == "Europe_Cities"  # the OpsWorks spelling
    assert data["stack"]["cookbooks"] == [{"archive": "https://example.com/cb.tgz"}]
    assert data["stack"]["ssh"]["user"] == "ec2-user"
    lb = data["layers"]["lb"]
    assert lb["recipes"] == {"setup": ["haproxy"], "configure": ["haproxy::configure"]}
    assert lb["custom_json"]["haproxy"]["backend_layer"] == "nodejs-app"
    assert lb["custom_json"]["haproxy"]["health_path"] == "/ping"
    assert data["layers"]["nodejs-app"]["recipes"] == {"deploy": ["extras::deploy"]}
    assert data["apps"]["shop"]["layers"] == ["nodejs-app"]
    assert data["apps"]["shop"]["source"] == {"type": "s3", "bucket": "bucket", "key": "app/shop.tgz",
                                              "region": "eu-west-1"}
    text = "\n".join(items)
    assert "Berkshelf" in text and "EnableHaproxyStats" in text and "AppSource Password" in text
    assert "built-in 'memcached'" in text
    md = migration_md(stack, items)
    assert "### Layer `nodejs-app` (nodejs-app)" in md
    assert "- Deploy, built-in (OpsWorks' own cookbooks): `deploy::nodejs`" in md
    assert "- Deploy, custom: `extras::deploy`" in md
    assert "runner's cookbooks/haproxy" in md
    assert "docs/cookbooks-and-recipes.md#built-in-resource-types" in md
    assert "- [ ] Berkshelf" in md
    add_stub_cookbooks(path)
    loaded = validate(path)
    assert loaded.apps["shop"].layers == ("nodejs-app",) or list(loaded.apps["shop"].layers) == ["nodejs-app"]


def test_load_and_time_based_instances(tmp_path):
    path, data, items = write(tmp_path, scaling_stack())
    assert data["layers"]["web-tier"]["load_based"] == {
        "enable": True,
        "up": {"instances": 2, "cpu": 80.0, "memory": -1, "load": 4.0, "thresholds_wait_time": "5m",
               "ignore_metrics_time": "10m"},
        "down": {"instances": 1, "cpu": 30.0, "thresholds_wait_time": "10m", "ignore_metrics_time": "10m"}}
    instances = data["instances"]
    assert "scaling" not in instances["web1"] and "schedule" not in instances["web1"]
    assert instances["web2"]["scaling"] == "load"
    assert instances["web3"]["schedule"] == {"Monday": {"9": "on", "10": "on"}}
    assert "image_id" not in data["stack"]["provider_options"]  # Custom: the instances' AMIs
    add_stub_cookbooks(path)
    stack = validate(path)
    assert stack.instances["web2"].scaling == "load"
    assert stack.layers["web-tier"].load_based.up.thresholds_wait_time == 300


def test_rds_ssl_and_attributes(tmp_path):
    path, data, items = write(tmp_path, rds_stack(), app_layers=None)
    db = data["stack"]["databases"]["shopdb"]
    assert db["engine"] == "postgres" and db["address"].startswith("shopdb.") and db["database"] == "store"
    assert db["username"] == "shop"
    app = data["apps"]["store"]
    assert app["layers"] == ["rails-app"]  # from the app type, though there is also a custom layer
    assert app["data_sources"] == ["shopdb"]
    assert app["custom_json"]["domains"] == ["store.example.com"]
    assert app["custom_json"]["opsworks_attributes"]["DocumentRoot"] == "public"
    text = "\n".join(items)
    assert "SSL" in text and "Domains" in text and "DocumentRoot" in text
    add_stub_cookbooks(path)
    with pytest.raises(UserErrors) as caught:
        validate(path)
    [error] = caught.value.errors
    assert "FILL IN: the password of RDS user shop" in path.read_text().splitlines()[error.location.line - 1]


def test_app_layer_needed_is_an_error_naming_every_app(tmp_path):
    stack = rds_stack()
    stack.apps[0].type = "other"
    stack.layers.append(OpsLayer("D", "custom", "Daemons", "daemons"))
    stack.apps.append(OpsApp("b", "Jobs", "jobs", "other"))
    with pytest.raises(UserError) as caught:
        to_stack_yaml(stack)
    assert "store (other)" in caught.value.message and "jobs (other)" in caught.value.message
    assert "--app-layer" in caught.value.hint
    _, data, _ = write(tmp_path, stack, app_layers={"store": "rails-app", "jobs": "workers"})
    assert data["apps"]["jobs"]["layers"] == ["workers"]
    with pytest.raises(UserError, match="no layer 'nope'"):
        to_stack_yaml(stack, {"store": "nope", "jobs": "workers"})


def test_s3_urls():
    assert s3_parts("s3://b/k/x.tgz") == ("b", "k/x.tgz", None)
    assert s3_parts("https://s3.amazonaws.com/b/k.tgz") == ("b", "k.tgz", None)
    assert s3_parts("https://b.s3.eu-west-1.amazonaws.com/k.tgz") == ("b", "k.tgz", "eu-west-1")
    assert s3_parts("https://s3-us-west-2.amazonaws.com/b/k.tgz") == ("b", "k.tgz", "us-west-2")


# -- the command ----------------------------------------------------------------------------


def run_import(monkeypatch, tmp_path, stack: OpsStack, *args: str) -> tuple[int, str, str]:
    seen = {}

    def fake(paths, parameters=None, stack_name=None):
        seen.update(paths=paths, parameters=parameters, stack_name=stack_name)
        return stack

    monkeypatch.setattr(read, "read_sources", fake)
    source = tmp_path / "describe.json"
    source.write_text('{"Stacks": []}')
    out, err = io.StringIO(), io.StringIO()
    command = import_.ImportCommand()
    import argparse

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    parsed = parser.parse_args(["opsworks", str(source), "-o", str(tmp_path / "out"), *args])
    try:
        code = command.run(parsed, CommandContext(Registry.load(), out, err))
    except UserError as exc:
        return 2, out.getvalue(), str(exc)
    return code, out.getvalue(), err.getvalue()


def test_command_writes_both_files_and_reports_the_check(monkeypatch, tmp_path):
    code, out, err = run_import(monkeypatch, tmp_path, scaling_stack(), "--parameter", "Env=prod")
    assert code == 0, err
    assert (tmp_path / "out" / "stack.yml").is_file() and (tmp_path / "out" / "MIGRATION.md").is_file()
    assert "web" in out and "cookbook" in out  # the web cookbook is not on the path yet: said, not failed
    assert "MIGRATION.md" in out


def test_command_refuses_to_overwrite_without_force(monkeypatch, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stack.yml").write_text("mine\n")
    code, _, err = run_import(monkeypatch, tmp_path, scaling_stack())
    assert code == 2 and "--force" in err
    assert (tmp_path / "out" / "stack.yml").read_text() == "mine\n"
    code, _, _ = run_import(monkeypatch, tmp_path, scaling_stack(), "--force")
    assert code == 0 and "mine" not in (tmp_path / "out" / "stack.yml").read_text()


def test_command_app_layer_option(monkeypatch, tmp_path):
    stack = rds_stack()
    stack.apps[0].type = "other"
    stack.layers.append(OpsLayer("D", "custom", "Daemons", "daemons"))
    code, _, err = run_import(monkeypatch, tmp_path, stack)
    assert code == 2 and "--app-layer" in err
    code, out, err = run_import(monkeypatch, tmp_path, stack, "--app-layer", "store=workers")
    assert code == 0, err
    assert "fill in" in out.lower()
    assert not (tmp_path / "out" / "stack.yml.tmp").exists()


def test_source_kinds(tmp_path):
    template = tmp_path / "t.yml"
    template.write_text("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  S: !Ref X\n")
    describe = tmp_path / "d.json"
    describe.write_text('{"Layers": []}')
    other = tmp_path / "o.json"
    other.write_text('{"Foo": 1}')
    assert read.source_kind(template) == "template"
    assert read.source_kind(describe) == "describe"
    samples = Path(__file__).parent / "import_samples"  # describe-load-based / time-based-auto-scaling output
    assert read.source_kind(samples / "scaling_autoscaling.json") == "describe"
    with pytest.raises(UserError, match="neither a CloudFormation template"):
        read.source_kind(other)
