"""The OpsWorks readers (runner.importer.cloudformation, runner.importer.describe) on templates and saved
describe-* output written from the shapes in the CloudFormation and AWS CLI references
(tests/unit/import_samples), and on bad input: UserError with file:line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import UserError
from runner.importer.cloudformation import read_template
from runner.importer.describe import read_describe
from runner.importer.model import MISSING_SECRET

SAMPLES = Path(__file__).parent / "import_samples"
CHEF12 = {"KeyName": "deploy", "AWS::Region": "eu-west-1"}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- a Chef 12 stack with custom cookbooks from git (YAML, short tags, parameters) ---------------------

def test_chef12_stack_settings() -> None:
    stack = read_template(SAMPLES / "chef12_git.yml", CHEF12)
    assert stack.name == "chef12_git-staging"  # !Sub with AWS::StackName (the file's stem) and a parameter
    assert stack.region == "eu-west-1"
    assert (stack.default_os, stack.default_ssh_key_name, stack.hostname_theme) == \
        ("Ubuntu 18.04 LTS", "deploy", "Layer_Dependent")
    assert stack.configuration_manager == {"Name": "Chef", "Version": "12"}
    assert stack.use_custom_cookbooks
    source = stack.custom_cookbooks_source
    assert source is not None
    assert (source.type, source.url, source.revision) == \
        ("git", "https://github.com/example/opsworks-cookbooks.git", "main")
    assert stack.custom_json == {"app": {"env": "staging", "workers": 2}, "db_password": MISSING_SECRET}
    assert stack.where is not None and stack.where.line == 23


def test_chef12_layer_instance_app() -> None:
    stack = read_template(SAMPLES / "chef12_git.yml", {**CHEF12, "Environment": "production"})
    assert stack.custom_json["app"]["workers"] == 8  # !If on a condition decided by the parameter
    (layer,) = stack.layers
    assert (layer.layer_id, layer.shortname, layer.type) == ("WebLayer", "web", "custom")
    assert layer.custom_recipes == {"Setup": ["base::default", "nginx::install"], "Configure": ["nginx::configure"],
                                    "Deploy": ["myapp::deploy"], "Shutdown": ["myapp::stop"]}
    assert layer.packages == ["nginx", "git"]
    assert layer.custom_json == {"nginx": {"worker_processes": 4}}  # CustomJson given as a JSON string
    assert layer.enable_auto_healing and layer.auto_assign_public_ips
    assert (layer.shutdown_execution_timeout, layer.shutdown_delay_until_elb_connections_drained) == (300, True)
    assert layer.elb == "web-elb"
    (instance,) = stack.instances
    assert (instance.hostname, instance.layer_ids, instance.instance_type, instance.root_device_type) == \
        ("web1", ["WebLayer"], "t3.small", "ebs")
    (app,) = stack.apps
    assert app.source is not None and app.source.url == "https://github.com/example/myapp.git"  # !Join
    assert app.source.ssh_key == MISSING_SECRET  # a NoEcho parameter without a value
    assert app.environment == [{"Key": "RAILS_ENV", "Value": "production", "Secure": False},
                               {"Key": "SECRET_KEY_BASE", "Value": MISSING_SECRET, "Secure": True}]
    assert app.domains == ["www.eu-west-1.example.com"]
    assert stack.user_profiles[0]["SshUsername"] == "deployer"
    assert stack.volumes[0]["MountPoint"] == "/srv/data"


def test_chef12_notes_what_is_not_read() -> None:
    notes = "\n".join(read_template(SAMPLES / "chef12_git.yml", CHEF12).unmapped)
    assert "chef12_git.yml:27:23: <!GetAtt ServiceRole.Arn> is known only to a deployed stack" in notes
    assert "layer web: InstallUpdatesOnBoot (false) is not carried over" in notes
    assert "stack chef12_git-staging: Attributes is not carried over" in notes


def test_parameter_without_value_is_an_error() -> None:
    with pytest.raises(UserError) as caught:
        read_template(SAMPLES / "chef12_git.yml", {"AWS::Region": "eu-west-1"})
    assert "parameter KeyName has no Default" in str(caught.value)
    assert caught.value.location is not None and caught.value.location.line == 30  # DefaultSshKeyName: !Ref KeyName
    assert "--parameter KeyName=VALUE" in str(caught.value)


def test_unknown_parameter_given() -> None:
    with pytest.raises(UserError, match="no parameter Colour"):
        read_template(SAMPLES / "chef12_git.yml", {**CHEF12, "Colour": "red"})


# --- RDS and SSL (JSON template) --------------------------------------------------------------------------

def test_rds_and_ssl_json_template() -> None:
    stack = read_template(SAMPLES / "rds_ssl.json", {"AWS::Region": "eu-central-1"})
    assert stack.name == "php-shop"
    assert stack.default_os == "Amazon Linux 2"  # Fn::FindInMap on AWS::Region
    assert stack.default_subnet_id == "subnet-aaa"  # Fn::Select on a CommaDelimitedList
    assert stack.vpc_id == "<!ImportValue shared-vpc-id>"
    assert stack.custom_json == {"php": {"memory_limit": "256M"}}
    (db,) = stack.rds_db_instances
    assert db["DbUser"] == "shopadmin"
    assert db["RdsDbInstanceArn"] == "arn:aws:rds:eu-central-1:<!Ref AWS::AccountId>:db:<!Ref Db>"
    (app,) = stack.apps
    assert app.type == "php" and app.source is not None and app.source.type == "archive"
    assert app.data_sources[0]["Type"] == "RdsDbInstance" and app.data_sources[0]["DatabaseName"] == "shop"
    assert app.enable_ssl
    assert app.ssl_configuration is not None and app.ssl_configuration["Certificate"].startswith("-----BEGIN")
    assert app.attributes == {"DocumentRoot": "web"}
    assert app.environment[0]["Value"] == "<!GetAtt Db.Endpoint.Address>"
    assert app.where is not None and app.where.line == 60
    (layer,) = stack.layers
    assert layer.enable_auto_healing  # "true" as a string
    assert layer.load_based is not None and layer.load_based["UpScaling"]["CpuThreshold"] == 75
    (instance,) = stack.instances
    assert instance.auto_scaling_type == "timer"
    assert instance.time_based_schedule == {"Monday": {"8": "on", "9": "on"}, "Tuesday": {"8": "on"}}
    assert any("rds_ssl.json:80:" in note and "Db.Endpoint.Address" in note for note in stack.unmapped)


# --- a Chef 11.10 stack with Berkshelf and built-in layers (describe output) --------------------------------

def test_chef11_berkshelf_describe() -> None:
    stack = read_describe([SAMPLES / "chef11_berkshelf.json"])
    assert (stack.name, stack.region, stack.vpc_id, stack.default_subnet_id) == \
        ("shop", "us-east-1", "vpc-0a1b2c3d", "subnet-0a1b2c3d")
    assert stack.configuration_manager == {"Name": "Chef", "Version": "11.10"}
    assert stack.chef_configuration == {"ManageBerkshelf": True, "BerkshelfVersion": "3.2.0"}
    assert stack.custom_json == {"deploy": {"shop": {"database": {"pool": 10}}}}
    source = stack.custom_cookbooks_source
    assert source is not None and source.type == "s3" and source.password == MISSING_SECRET
    assert stack.use_opsworks_security_groups is True and stack.agent_version == "LATEST"
    assert [layer.type for layer in stack.layers] == ["rails-app", "lb", "db-master", "memcached"]
    rails, lb, db, _ = stack.layers
    assert rails.custom_recipes == {"Setup": ["shop::setup"], "Deploy": ["shop::migrate"]}
    assert rails.default_recipes["Deploy"] == ["deploy::default", "deploy::rails"]
    assert rails.attributes["RailsStack"] == "apache_passenger" and "JavaAppServer" not in rails.attributes
    assert rails.shutdown_execution_timeout == 120 and rails.shutdown_delay_until_elb_connections_drained is False
    assert lb.attributes["HaproxyStatsPassword"] == MISSING_SECRET
    assert db.volume_configurations[0]["MountPoint"] == "/vol/mysql"
    mercury = stack.instances[0]
    assert mercury.layer_ids == [rails.layer_id, stack.layers[3].layer_id]
    assert (mercury.hostname, mercury.architecture, mercury.root_device_type) == \
        ("mercury", "x86_64", "instance-store")
    (app,) = stack.apps
    assert app.source is not None and app.source.ssh_key == MISSING_SECRET
    assert app.environment[1] == {"Key": "SMTP_PASSWORD", "Value": MISSING_SECRET, "Secure": True}
    assert app.attributes == {"DocumentRoot": "public", "RailsEnv": "production", "AutoBundleOnDeploy": "true"}
    assert app.where is not None and app.where.line == 129
    notes = "\n".join(stack.unmapped)
    assert "instance mercury: Tenancy" in notes and "PublicIp" not in notes


# --- load- and time-based instances (describe output over two files) ----------------------------------------

def test_scaling_describe_in_two_files() -> None:
    stack = read_describe([SAMPLES / "scaling_stack.json", SAMPLES / "scaling_autoscaling.json"], "scaling")
    assert [layer.shortname for layer in stack.layers] == ["workers"]  # the other stack's layer is left out
    load_based = stack.layers[0].load_based
    assert load_based is not None and load_based["Enable"] is True
    assert load_based["UpScaling"]["CpuThreshold"] == 80.0 and load_based["DownScaling"]["InstanceCount"] == 1
    assert [i.auto_scaling_type for i in stack.instances] == [None, "load", "timer"]
    assert stack.instances[2].time_based_schedule == {"Monday": {"9": "on", "10": "on", "11": "on"},
                                                      "Friday": {"9": "on", "10": "on"}}
    assert stack.custom_json is None


def test_several_stacks_need_a_name() -> None:
    with pytest.raises(UserError, match=r"several stacks: scaling \(aaaa.*other") as caught:
        read_describe([SAMPLES / "scaling_stack.json"])
    assert "--stack" in str(caught.value)
    with pytest.raises(UserError, match="no stack nope"):
        read_describe([SAMPLES / "scaling_stack.json"], "nope")


def test_describe_without_stacks_takes_the_name_given(tmp_path: Path) -> None:
    layers = write(tmp_path, "layers.json", '{"Layers": [{"LayerId": "l1", "Type": "custom", "Shortname": "app"}]}')
    stack = read_describe([layers], "mine")
    assert stack.name == "mine" and stack.layers[0].shortname == "app"
    with pytest.raises(UserError, match="no Stacks"):
        read_describe([layers])


# --- the short tags ---------------------------------------------------------------------------------------

def test_every_short_tag_reads(tmp_path: Path) -> None:
    template = write(tmp_path, "tags.yml", """\
Parameters:
  Env: {Type: String, Default: prod}
Conditions:
  Prod: !Equals [!Ref Env, prod]
  Both: !And [!Condition Prod, !Not [!Equals [!Ref Env, dev]]]
  Either: !Or [!Condition Prod, !Equals [a, b]]
Resources:
  S:
    Type: AWS::OpsWorks::Stack
    Properties:
      Name: !If [Both, !Sub "s-${Env}", other]
      CustomJson:
        b64: !Base64 hi
        azs: !GetAZs ""
        cidr: !Cidr [10.0.0.0/16, 4, 8]
        split: !Split [",", "a,b"]
        select: !Select [1, [x, y]]
        either: !If [Either, yes-it-is, no]
        gone: !If [Prod, !Ref "AWS::NoValue", kept]
        import: !ImportValue shared
        att: !GetAtt S.Arn
        transform: !Transform {Name: AWS::Include, Parameters: {Location: s3://x}}
        map: !FindInMap [M, k, v]
Mappings:
  M: {k: {v: found}}
""")
    stack = read_template(template)
    assert stack.name == "s-prod"
    assert stack.custom_json == {
        "b64": "aGk=", "azs": "<!GetAZs >", "cidr": '<!Cidr ["10.0.0.0/16", 4, 8]>', "split": ["a", "b"],
        "select": "y", "either": "yes-it-is", "import": "<!ImportValue shared>", "att": "<!GetAtt S.Arn>",
        "transform": '<!Transform {"Name": "AWS::Include", "Parameters": {"Location": "s3://x"}}>', "map": "found",
    }


# --- bad input ---------------------------------------------------------------------------------------------

def test_not_a_template(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a CloudFormation template") as caught:
        read_template(write(tmp_path, "x.yml", "hello: world\n"))
    assert str(caught.value).startswith(str(tmp_path / "x.yml") + ":1")
    with pytest.raises(UserError, match="describe-\\* output is read as such"):
        read_template(SAMPLES / "chef11_berkshelf.json")


def test_no_opsworks_resources(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yml", "Resources:\n  B:\n    Type: AWS::S3::Bucket\n")
    with pytest.raises(UserError, match="no AWS::OpsWorks resources") as caught:
        read_template(path)
    assert caught.value.location is not None and caught.value.location.line == 1


def test_broken_reference_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yml", """\
Resources:
  S:
    Type: AWS::OpsWorks::Stack
    Properties: {Name: s}
  L:
    Type: AWS::OpsWorks::Layer
    Properties:
      StackId: !Ref S
      Type: custom
      Name: web
      Shortname: web
  I:
    Type: AWS::OpsWorks::Instance
    Properties:
      StackId: !Ref S
      LayerIds: [!Ref WebLayer]
""")
    with pytest.raises(UserError, match="Ref to WebLayer, which is neither a parameter nor a resource") as caught:
        read_template(path)
    assert caught.value.location is not None and caught.value.location.line == 16


def test_unreadable_yaml_and_json(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="invalid YAML") as caught:
        read_template(write(tmp_path, "t.yml", "Resources:\n  S: [unclosed\n"))
    assert caught.value.location is not None and caught.value.location.line >= 2
    with pytest.raises(UserError, match="invalid JSON") as caught:
        read_describe([write(tmp_path, "d.json", '{\n  "Stacks": [\n    {"Name": "x",}\n  ]\n}\n')])
    assert caught.value.location is not None and caught.value.location.line == 3
    with pytest.raises(UserError, match="cannot read file"):
        read_describe([tmp_path / "missing.json"])
    with pytest.raises(UserError, match="not saved aws opsworks describe"):
        read_describe([write(tmp_path, "o.json", '{"Something": []}')])


def test_bad_custom_json_string(tmp_path: Path) -> None:
    path = write(tmp_path, "d.json", '{"Stacks": [\n  {"StackId": "s", "Name": "x", "CustomJson": "{nope"}\n]}\n')
    with pytest.raises(UserError, match="stack x CustomJson is not valid JSON") as caught:
        read_describe([path])
    assert caught.value.location is not None and caught.value.location.line == 2


def test_several_template_stacks(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yml", """\
Resources:
  A: {Type: AWS::OpsWorks::Stack, Properties: {Name: alpha}}
  B: {Type: AWS::OpsWorks::Stack, Properties: {Name: beta}}
  LA: {Type: AWS::OpsWorks::Layer, Properties: {StackId: !Ref A, Type: custom, Name: a, Shortname: a}}
  LB: {Type: AWS::OpsWorks::Layer, Properties: {StackId: !Ref B, Type: custom, Name: b, Shortname: b}}
""")
    with pytest.raises(UserError, match=r"several OpsWorks stacks: A \(alpha\), B \(beta\)"):
        read_template(path)
    assert [layer.shortname for layer in read_template(path, stack_name="beta").layers] == ["b"]
    assert [layer.shortname for layer in read_template(path, stack_name="A").layers] == ["a"]
    with pytest.raises(UserError, match="no AWS::OpsWorks::Stack gamma"):
        read_template(path, stack_name="gamma")
